//! The leaves of list columns (`costs`' product, rule, category and cost,
//! `units`' key and units), and the top-level label columns (`flow`,
//! `status`, `run_id`, ...: [`ListLeaf::flat`]), written as Parquet column
//! chunks straight from the batch's arrays, one data page per batch. The
//! texts are already keys into a handful of texts (`parquet::Entries`,
//! `Table::label`); arrow-rs would hash and compare every entry's text again
//! to rebuild that dictionary (apache/arrow-rs#10465). Here
//! a batch's keys are mapped once to the row group's dictionary and bit-packed
//! (`RLE_DICTIONARY`, after a `PLAIN` dictionary page of the row group's
//! texts, as arrow-rs lays them out). The amounts are copied once into the
//! page (`PLAIN`, 8 bytes each), where arrow-rs would narrow a decimal column
//! into a new array, then copy it into a growing page buffer; the counts are
//! written as differences (`DELTA_BINARY_PACKED`). A list's
//! repetition and definition levels are the same for all its leaves:
//! [`ListLevels`] encodes them once a batch.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, UInt32Type};
use arrow_array::{Array, ListArray};
use arrow_schema::DataType;
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, Type as PhysicalType};
use parquet::column::page::{CompressedPage, Page, PageWriteSpec, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::page_index::offset_index::{OffsetIndexMetaData, PageLocation};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// One leaf of a `list<struct<...>>` column, for the row group being written.
pub(super) struct ListLeaf {
    descr: ColumnDescPtr,
    /// Which of the struct's fields this leaf is.
    field: usize,
    values: Values,
    /// The row group's data pages so far, compressed.
    pages: Vec<DataPage>,
    rows: usize,
    compression: Compression,
    compressor: zstd::bulk::Compressor<'static>,
    /// For a top-level column ([`ListLeaf::flat`]), what its chunk's
    /// statistics need: which of the row group's texts are used, and how
    /// many rows are null. List leaves carry no statistics.
    statistics: Option<(Vec<bool>, u64)>,
}

/// What a leaf holds, and so how its values are encoded.
enum Values {
    /// Texts as `Dictionary(UInt32, Utf8)`: the row group's dictionary, its
    /// texts in order of first use.
    Labels {
        texts: Vec<String>,
        index: HashMap<String, u32>,
    },
    /// `Decimal128` amounts of at most 18 digits (an `INT64` leaf), `PLAIN`:
    /// a transaction's amounts repeat the last one's, and ZSTD finds the
    /// repeats in the plain bytes.
    Decimals,
    /// `Int64` counts, `DELTA_BINARY_PACKED`: small numbers, whose plain
    /// 8 bytes ZSTD compresses slowly (docs/performance.md).
    Integers,
}

struct DataPage {
    compressed: Bytes,
    uncompressed_len: usize,
    levels: u32,
    rows: usize,
}

/// The repetition and definition levels of a batch of a list column, encoded
/// as a data page (v1) starts: the same for every leaf of the list.
pub(super) struct ListLevels {
    encoded: Vec<u8>,
    levels: u32,
}

impl ListLevels {
    /// The levels of `list`, a list (nullable or not: `list_nullable`) whose
    /// entries and their fields are nullable, as `parquet::Entries` makes
    /// them, and none of them ever null (refused by [`ListLeaf::write`]): an
    /// empty list defines the list only, an entry all three levels below it.
    pub(super) fn of(list: &ListArray, list_nullable: bool) -> Self {
        let (empty_level, entry_level) = ListLeaf::definition_levels(list_nullable);
        let mut repetition = LevelRuns::new(1);
        let mut definition = LevelRuns::new(bit_width(entry_level as u32));
        for row in list.value_offsets().windows(2) {
            let len = (row[1] - row[0]) as usize;
            repetition.push(0, 1);
            if len == 0 {
                definition.push(empty_level as u32, 1);
            } else {
                repetition.push(1, len - 1);
                definition.push(entry_level as u32, len);
            }
        }
        let levels = repetition.levels as u32;
        let mut encoded = Vec::new();
        repetition.finish_into(&mut encoded);
        definition.finish_into(&mut encoded);
        Self { encoded, levels }
    }

    /// The levels of a top-level nullable column: a definition level a row
    /// (1 when it has a value), no repetition levels.
    pub(super) fn flat(column: &dyn Array) -> Self {
        let mut definition = LevelRuns::new(1);
        match column.nulls() {
            Some(nulls) if nulls.null_count() > 0 => {
                for is_valid in nulls.iter() {
                    definition.push(u32::from(is_valid), 1);
                }
            }
            _ => definition.push(1, column.len()),
        }
        let mut encoded = Vec::new();
        definition.finish_into(&mut encoded);
        Self {
            encoded,
            levels: column.len() as u32,
        }
    }
}

impl ListLeaf {
    /// The definition levels of an empty list and of an entry: list (optional
    /// or required) > repeated group > optional struct > optional leaf.
    fn definition_levels(list_nullable: bool) -> (i16, i16) {
        let empty = i16::from(list_nullable);
        (empty, empty + 3)
    }

    /// The leaf `field` (of type `data_type` in the batches) of a list column
    /// whose list is nullable or not (`list_nullable`), as [`ListLevels::of`]
    /// takes it. `None` for any other shape or type.
    pub(super) fn new(
        descr: ColumnDescPtr,
        field: usize,
        data_type: &DataType,
        list_nullable: bool,
        compression: Compression,
    ) -> Option<Self> {
        let (_, entry_level) = Self::definition_levels(list_nullable);
        if descr.max_def_level() != entry_level || descr.max_rep_level() != 1 {
            return None;
        }
        Self::of_type(descr, field, data_type, compression)
    }

    /// The leaf, its levels checked: `None` for a type or codec it does not write.
    fn of_type(
        descr: ColumnDescPtr,
        field: usize,
        data_type: &DataType,
        compression: Compression,
    ) -> Option<Self> {
        let Compression::ZSTD(level) = compression else {
            return None;
        };
        let values = match data_type {
            DataType::Dictionary(k, v) if **k == DataType::UInt32 && **v == DataType::Utf8 => {
                Values::Labels {
                    texts: Vec::new(),
                    index: HashMap::new(),
                }
            }
            DataType::Decimal128(..=18, _) if descr.physical_type() == PhysicalType::INT64 => {
                Values::Decimals
            }
            DataType::Int64 if descr.physical_type() == PhysicalType::INT64 => Values::Integers,
            _ => return None,
        };
        Some(Self {
            descr,
            field,
            values,
            pages: Vec::new(),
            rows: 0,
            compression,
            compressor: zstd::bulk::Compressor::new(level.compression_level()).ok()?,
            statistics: None,
        })
    }

    /// A top-level nullable text column given as `Dictionary(UInt32, Utf8)`
    /// (`data_type`): the texts a table's rows share (a flow, a status, the
    /// run's id), written as dictionary keys like a list's labels, where
    /// arrow-rs would hash and compare each row's text (its cost measured in
    /// docs/performance.md). Its chunk has statistics.
    /// `None` for any other column.
    pub(super) fn flat(
        descr: ColumnDescPtr,
        data_type: &DataType,
        compression: Compression,
    ) -> Option<Self> {
        if descr.max_def_level() != 1 || descr.max_rep_level() != 0 {
            return None;
        }
        let mut leaf = Self::of_type(descr, 0, data_type, compression)?;
        if !matches!(leaf.values, Values::Labels { .. }) {
            return None;
        }
        leaf.statistics = Some((Vec::new(), 0));
        Some(leaf)
    }

    /// Adds a batch's rows of the list column (whose levels are `levels`) as one data page.
    pub(super) fn write(&mut self, list: &ListArray, levels: &ListLevels) -> Result<()> {
        let entries = list.values().as_struct();
        let column = entries.column(self.field);
        if [list.null_count(), entries.null_count(), column.null_count()]
            .iter()
            .any(|&n| n > 0)
        {
            return Err(ParquetError::General("a list or entry is null".into()));
        }
        let offsets = list.value_offsets();
        let used = offsets[0] as usize..offsets[list.len()] as usize;
        self.write_page(column.as_ref(), used, levels, list.len())
    }

    /// Adds a batch's rows of a top-level column ([`ListLeaf::flat`], whose
    /// levels are [`ListLevels::flat`]) as one data page.
    pub(super) fn write_flat(&mut self, column: &dyn Array, levels: &ListLevels) -> Result<()> {
        self.write_page(column, 0..column.len(), levels, column.len())
    }

    /// One data page: `levels`, then the values of `column[used]` (the
    /// valid ones), for `rows` rows.
    fn write_page(
        &mut self,
        column: &dyn Array,
        used: std::ops::Range<usize>,
        levels: &ListLevels,
        rows: usize,
    ) -> Result<()> {
        let mut page = Vec::with_capacity(levels.encoded.len() + used.len() * 8 + 64);
        page.extend_from_slice(&levels.encoded);
        match &mut self.values {
            Values::Labels { texts, index } => {
                let labels = column.as_dictionary_opt::<UInt32Type>().ok_or_else(|| {
                    ParquetError::General("a label leaf is not a dictionary".into())
                })?;
                let label_texts = labels.values().as_string::<i32>();
                if label_texts.null_count() > 0 {
                    return Err(ParquetError::General("a label text is null".into()));
                }
                let to_group: Vec<u32> = (0..label_texts.len())
                    .map(|i| intern(texts, index, label_texts.value(i)))
                    .collect();
                // Every row's entries, one after the other; a null row has none.
                let keys = &labels.keys().values()[used];
                let valid: Vec<u32>;
                let keys = match column.nulls() {
                    Some(nulls) if nulls.null_count() > 0 => {
                        valid = (keys.iter().zip(nulls.iter()))
                            .filter_map(|(&k, is_valid)| is_valid.then_some(k))
                            .collect();
                        &valid[..]
                    }
                    _ => keys,
                };
                if let Some((used_texts, nulls)) = &mut self.statistics {
                    used_texts.resize(texts.len(), false);
                    for &k in keys {
                        used_texts[to_group[k as usize] as usize] = true;
                    }
                    *nulls += column.null_count() as u64;
                }
                let width = bit_width(texts.len().saturating_sub(1) as u32).max(1);
                page.push(width as u8);
                bit_pack(&mut page, width, keys, |k| to_group[k as usize]);
            }
            Values::Decimals => {
                let decimals = column.as_primitive_opt::<Decimal128Type>().ok_or_else(|| {
                    ParquetError::General(format!("a decimal leaf is {}", column.data_type()))
                })?;
                // Each amount's low 8 bytes, then one test that all fit them.
                let amounts = &decimals.values()[used];
                let start = page.len();
                page.resize(start + amounts.len() * 8, 0);
                let mut fit = true;
                for (bytes, &amount) in page[start..].chunks_exact_mut(8).zip(amounts) {
                    let low = amount as i64;
                    fit &= i128::from(low) == amount;
                    bytes.copy_from_slice(&low.to_le_bytes());
                }
                if !fit {
                    let wide = amounts.iter().find(|a| i64::try_from(**a).is_err());
                    return Err(ParquetError::General(format!(
                        "decimal {} does not fit 64 bits",
                        wide.expect("an amount that does not fit")
                    )));
                }
            }
            Values::Integers => {
                let numbers = column.as_primitive_opt::<Int64Type>().ok_or_else(|| {
                    ParquetError::General(format!("an integer leaf is {}", column.data_type()))
                })?;
                delta_pack(&mut page, &numbers.values()[used]);
            }
        }
        let compressed = self
            .compressor
            .compress(&page)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        self.pages.push(DataPage {
            compressed: compressed.into(),
            uncompressed_len: page.len(),
            levels: levels.levels,
            rows,
        });
        self.rows += rows;
        Ok(())
    }

    /// The row group's column chunk (its bytes and what the row group needs to
    /// know of them); the leaf is then ready for the next row group.
    pub(super) fn finish(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        let mut sink = TrackedWrite::new(Vec::new());
        let mut writer = SerializedPageWriter::new(&mut sink);
        let mut uncompressed_size = 0;
        let (mut dictionary_page_offset, mut data_page_offset) = (None, 0);
        let mut encodings = vec![Encoding::PLAIN, Encoding::RLE];
        // A label leaf's data pages hold dictionary indices, a number leaf's its values.
        let data_encoding = match self.values {
            Values::Labels { .. } => Encoding::RLE_DICTIONARY,
            Values::Decimals => Encoding::PLAIN,
            Values::Integers => Encoding::DELTA_BINARY_PACKED,
        };
        if data_encoding != Encoding::PLAIN {
            encodings.push(data_encoding);
        }
        let statistics = self.take_label_statistics();
        if let Some(written) = self.write_dictionary(&mut writer)? {
            uncompressed_size += written.uncompressed_size;
            dictionary_page_offset = Some(0);
            data_page_offset = written.bytes_written as i64;
        }
        // The data pages follow the dictionary page, if any.
        let mut locations = Vec::with_capacity(self.pages.len());
        let (mut levels, mut first_row) = (0i64, 0i64);
        for page in self.pages.drain(..) {
            let written = writer.write_page(CompressedPage::new(
                Page::DataPage {
                    buf: page.compressed,
                    num_values: page.levels,
                    encoding: data_encoding,
                    def_level_encoding: Encoding::RLE,
                    rep_level_encoding: Encoding::RLE,
                    statistics: None,
                },
                page.uncompressed_len,
            ))?;
            locations.push(PageLocation {
                offset: written.offset as i64,
                compressed_page_size: written.compressed_size as i32,
                first_row_index: first_row,
            });
            uncompressed_size += written.uncompressed_size;
            levels += i64::from(page.levels);
            first_row += page.rows as i64;
        }
        writer.close()?;
        let bytes = Bytes::from(sink.into_inner()?);
        let mut metadata = ColumnChunkMetaData::builder(self.descr.clone());
        if let Some(statistics) = statistics {
            metadata = metadata.set_statistics(statistics);
        }
        let metadata = metadata
            .set_compression(self.compression)
            .set_encodings(encodings)
            .set_num_values(levels)
            .set_total_compressed_size(bytes.len() as i64)
            .set_total_uncompressed_size(uncompressed_size as i64)
            .set_dictionary_page_offset(dictionary_page_offset)
            .set_data_page_offset(data_page_offset)
            .build()?;
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: self.rows as u64,
            metadata,
            bloom_filter: None,
            column_index: None,
            offset_index: Some(OffsetIndexMetaData {
                page_locations: locations,
                unencoded_byte_array_data_bytes: None,
            }),
        };
        self.rows = 0;
        Ok((bytes, close))
    }

    /// A label leaf's chunk statistics (min and max of the labels the row
    /// group used, nulls), taken: the next row group starts afresh.
    fn take_label_statistics(&mut self) -> Option<Statistics> {
        let (Some((used, nulls)), Values::Labels { texts, .. }) =
            (&mut self.statistics, &self.values)
        else {
            return None;
        };
        let used_texts = (texts.iter().zip(used.iter())).filter_map(|(t, &u)| u.then_some(t));
        let bytes = |t: &String| ByteArray::from(t.as_bytes().to_vec());
        let statistics = Statistics::byte_array(
            used_texts.clone().min().map(bytes),
            used_texts.max().map(bytes),
            None,
            Some(std::mem::take(nulls)),
            false,
        );
        used.clear();
        Some(statistics)
    }

    /// A label leaf's dictionary page (PLAIN), written first; the dictionary
    /// is then emptied for the next row group. `None` for a number leaf.
    fn write_dictionary(
        &mut self,
        writer: &mut SerializedPageWriter<'_, Vec<u8>>,
    ) -> Result<Option<PageWriteSpec>> {
        let Values::Labels { texts, index } = &mut self.values else {
            return Ok(None);
        };
        let mut dictionary = Vec::new();
        for text in texts.iter() {
            dictionary.extend_from_slice(&(text.len() as u32).to_le_bytes());
            dictionary.extend_from_slice(text.as_bytes());
        }
        let compressed = self
            .compressor
            .compress(&dictionary)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        let written = writer.write_page(CompressedPage::new(
            Page::DictionaryPage {
                buf: compressed.into(),
                num_values: texts.len() as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            },
            dictionary.len(),
        ))?;
        texts.clear();
        index.clear();
        Ok(Some(written))
    }
}

/// `text`'s index in the row group's dictionary, added if new.
fn intern(texts: &mut Vec<String>, index: &mut HashMap<String, u32>, text: &str) -> u32 {
    if let Some(&i) = index.get(text) {
        return i;
    }
    let i = texts.len() as u32;
    texts.push(text.to_owned());
    index.insert(text.to_owned(), i);
    i
}

/// The bits that hold `max`.
fn bit_width(max: u32) -> u32 {
    32 - max.leading_zeros()
}

/// `values` in Parquet's `DELTA_BINARY_PACKED`: a header (values a block,
/// miniblocks a block, how many values, the first), then each block of 128
/// differences between neighbours: their least (zigzag), each miniblock's bit
/// width, and the 32 differences of each miniblock less the least, bit-packed
/// low bits first (the last miniblock's padded with zeros; the last block's
/// unneeded miniblocks have width 0 and no bytes).
fn delta_pack(out: &mut Vec<u8>, values: &[i64]) {
    const BLOCK: usize = 128;
    const MINIBLOCK: usize = 32;
    let zigzag = |n: i64| ((n << 1) ^ (n >> 63)) as u64;
    uleb128(out, BLOCK as u64);
    uleb128(out, (BLOCK / MINIBLOCK) as u64);
    uleb128(out, values.len() as u64);
    uleb128(out, zigzag(values.first().copied().unwrap_or(0)));
    // Block k's differences are those of values k*128 .. k*128 + 128 with their next.
    for start in (1..values.len()).step_by(BLOCK) {
        let mut deltas = [0i64; BLOCK];
        let neighbours = values[start - 1..values.len().min(start + BLOCK)].windows(2);
        let count = neighbours.len();
        for (delta, pair) in deltas.iter_mut().zip(neighbours) {
            *delta = pair[1].wrapping_sub(pair[0]);
        }
        let least = deltas[..count]
            .iter()
            .copied()
            .min()
            .expect("a block has a value");
        uleb128(out, zigzag(least));
        let widths = out.len();
        out.extend_from_slice(&[0; BLOCK / MINIBLOCK]);
        for (i, miniblock) in deltas[..count].chunks(MINIBLOCK).enumerate() {
            let mut above = [0u64; MINIBLOCK];
            for (a, &d) in above.iter_mut().zip(miniblock) {
                *a = d.wrapping_sub(least) as u64;
            }
            let width = 64 - above.iter().fold(0, |all, &a| all | a).leading_zeros();
            out[widths + i] = width as u8;
            pack_bits(out, width, above); // 32 values: 4 * width bytes
        }
    }
}

/// Levels as runs of one value, written in Parquet's RLE/bit-packed hybrid
/// with a 4-byte length in front (data page v1).
struct LevelRuns {
    width: u32,
    encoded: Vec<u8>,
    run: Option<(u32, usize)>,
    levels: usize,
}

impl LevelRuns {
    fn new(width: u32) -> Self {
        Self {
            width,
            encoded: Vec::new(),
            run: None,
            levels: 0,
        }
    }

    fn push(&mut self, value: u32, count: usize) {
        if count == 0 {
            return;
        }
        self.levels += count;
        match &mut self.run {
            Some((v, n)) if *v == value => *n += count,
            run => {
                if let Some((v, n)) = run.replace((value, count)) {
                    rle_run(&mut self.encoded, self.width, v, n);
                }
            }
        }
    }

    fn finish_into(mut self, page: &mut Vec<u8>) {
        if let Some((v, n)) = self.run.take() {
            rle_run(&mut self.encoded, self.width, v, n);
        }
        page.extend_from_slice(&(self.encoded.len() as u32).to_le_bytes());
        page.extend_from_slice(&self.encoded);
    }
}

fn rle_run(out: &mut Vec<u8>, width: u32, value: u32, count: usize) {
    uleb128(out, (count as u64) << 1);
    out.extend_from_slice(&value.to_le_bytes()[..width.div_ceil(8) as usize]);
}

/// `map` of each of `values`, in bit-packed runs of at most 63 groups of 8
/// (a one-byte header, as every reader expects), the last group padded with
/// zeros.
fn bit_pack(out: &mut Vec<u8>, width: u32, values: &[u32], map: impl Fn(u32) -> u32) {
    const RUN: usize = 63 * 8;
    for run in values.chunks(RUN) {
        let groups = run.len().div_ceil(8);
        uleb128(out, ((groups as u64) << 1) | 1);
        for group in run.chunks(8) {
            if width <= 8 {
                // 8 values of up to 8 bits: one word.
                let packed = (group.iter().enumerate()).fold(0u64, |p, (j, &v)| {
                    p | u64::from(map(v)) << (j as u32 * width)
                });
                out.extend_from_slice(&packed.to_le_bytes()[..width as usize]);
                continue;
            }
            // 8 values of up to 32 bits: `width` bytes.
            let padded = group
                .iter()
                .map(|&v| u64::from(map(v)))
                .chain(std::iter::repeat(0));
            pack_bits(out, width, padded.take(8));
        }
    }
}

/// `values` of `width` bits each (at most 64), packed low bits first as
/// Parquet packs bits; together they fill whole bytes.
fn pack_bits(out: &mut Vec<u8>, width: u32, values: impl IntoIterator<Item = u64>) {
    let (mut pending, mut bits) = (0u128, 0);
    for value in values {
        pending |= u128::from(value) << bits;
        bits += width;
        if bits >= 64 {
            out.extend_from_slice(&(pending as u64).to_le_bytes());
            (pending, bits) = (pending >> 64, bits - 64);
        }
    }
    debug_assert_eq!(bits % 8, 0, "whole bytes");
    out.extend_from_slice(&pending.to_le_bytes()[..bits as usize / 8]);
}

fn uleb128(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parquet's bit packing, one bit at a time: value `i`'s bit `b` is bit
    /// `i * width + b` of the run, counting from the first byte's lowest bit.
    fn packed_bit_by_bit(width: u32, values: &[u32]) -> Vec<u8> {
        let mut out = vec![0u8; values.len().div_ceil(8) * width as usize];
        for (i, &value) in values.iter().enumerate() {
            for b in 0..width {
                let bit = i * width as usize + b as usize;
                out[bit / 8] |= (((value >> b) & 1) as u8) << (bit % 8);
            }
        }
        out
    }

    #[test]
    fn bit_packing_matches_the_format_at_every_width() {
        for width in 1..=32u32 {
            let max = if width == 32 {
                u32::MAX
            } else {
                (1 << width) - 1
            };
            let values: Vec<u32> = (0..1_000u32)
                .map(|i| i.wrapping_mul(2_654_435_761) & max)
                .collect();
            let mut out = Vec::new();
            bit_pack(&mut out, width, &values, |v| v);
            let mut expected = Vec::new();
            for run in values.chunks(504) {
                uleb128(&mut expected, ((run.len().div_ceil(8) as u64) << 1) | 1);
                expected.extend(packed_bit_by_bit(width, run));
            }
            assert_eq!(out, expected, "width {width}");
        }
    }
}
