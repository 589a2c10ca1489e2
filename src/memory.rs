//! Handing back memory that threads freed for each other. The log stage's
//! workers allocate the accumulators and their maps; the tasks that make the
//! day's transactions free them, a shard each, whichever worker allocated
//! them. mimalloc (the binary's allocator, `main.rs`) queues a block freed by
//! another thread on its owner's heap until the owner allocates again, which
//! idle workers do not: without this, the log stage's memory stayed resident
//! under the transactions made from it, about 100 MB at 1M transactions
//! (`docs/performance.md`).

/// Has every thread of the rayon pool, and the caller, take back the blocks
/// freed to its heap and return the pages left empty to the OS. Harmless (a
/// walk over empty heaps) when mimalloc is not the global allocator.
pub fn release_freed() {
    rayon::broadcast(|_| release_freed_here());
    release_freed_here();
}

/// [`release_freed`] for the calling thread only: a task that freed memory
/// other threads allocated, and allocated some of its own, between others.
#[allow(unsafe_code)] // one mimalloc call, SAFETY below
pub fn release_freed_here() {
    // SAFETY: `mi_collect` takes no pointer and only walks the calling
    // thread's own heap; any thread may call it at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
