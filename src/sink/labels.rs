//! The text leaves of list columns (`costs`' product, rule and category,
//! `units.unit_key`) written as Parquet column chunks straight from their
//! dictionary keys. Each entry's texts are already a key into a handful of
//! texts (`parquet::Entries`); arrow-rs would hash and compare every entry's
//! text again to rebuild that dictionary (apache/arrow-rs#10465), a third of
//! the sink's time. Here a batch's keys are mapped once to the row group's
//! dictionary and bit-packed: one `RLE_DICTIONARY` data page per batch, after
//! a `PLAIN` dictionary page of the row group's texts, as arrow-rs lays them out.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{Array, ListArray};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::page_index::offset_index::{OffsetIndexMetaData, PageLocation};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// One text leaf of a `list<struct<...>>` column, for the row group being written.
pub(super) struct LabelLeaf {
    descr: ColumnDescPtr,
    /// Which of the struct's fields this leaf is.
    field: usize,
    /// The definition level of an entry and of an empty list.
    entry_level: i16,
    empty_level: i16,
    /// The row group's dictionary: its texts in order of first use.
    texts: Vec<String>,
    index: HashMap<String, u32>,
    /// The row group's data pages so far, compressed.
    pages: Vec<DataPage>,
    rows: usize,
    compression: Compression,
    compressor: zstd::bulk::Compressor<'static>,
}

struct DataPage {
    compressed: Bytes,
    uncompressed_len: usize,
    levels: u32,
    rows: usize,
}

impl LabelLeaf {
    /// The leaf `field` of a list column whose list is nullable or not
    /// (`list_nullable`), its entries and their fields nullable, as
    /// `parquet::Entries` makes them, and none of them ever null (refused by
    /// [`LabelLeaf::write`]). `None` for any other shape.
    pub(super) fn new(
        descr: ColumnDescPtr,
        field: usize,
        list_nullable: bool,
        compression: Compression,
    ) -> Option<Self> {
        let Compression::ZSTD(level) = compression else {
            return None;
        };
        // list (optional or required) > repeated group > optional struct > optional leaf:
        // an empty list defines the list only, an entry all three below it.
        let empty_level = i16::from(list_nullable);
        let entry_level = empty_level + 3;
        if descr.max_def_level() != entry_level || descr.max_rep_level() != 1 {
            return None;
        }
        Some(Self {
            descr,
            field,
            entry_level,
            empty_level,
            texts: Vec::new(),
            index: HashMap::new(),
            pages: Vec::new(),
            rows: 0,
            compression,
            compressor: zstd::bulk::Compressor::new(level.compression_level()).ok()?,
        })
    }

    /// Adds a batch's rows of the list column as one data page.
    pub(super) fn write(&mut self, list: &ListArray) -> Result<()> {
        let entries = list.values().as_struct();
        let labels = entries
            .column(self.field)
            .as_dictionary_opt::<UInt32Type>()
            .ok_or_else(|| ParquetError::General("a label leaf is not a dictionary".into()))?;
        let texts = labels.values().as_string::<i32>();
        if [
            list.null_count(),
            entries.null_count(),
            labels.null_count(),
            texts.null_count(),
        ]
        .iter()
        .any(|&n| n > 0)
        {
            return Err(ParquetError::General(
                "a label list or entry is null".into(),
            ));
        }
        let to_group: Vec<u32> = (0..texts.len())
            .map(|i| self.intern(texts.value(i)))
            .collect();
        let keys = labels.keys().values();

        let mut repetition = LevelRuns::new(1);
        let mut definition = LevelRuns::new(bit_width(self.entry_level as u32));
        let offsets = list.value_offsets();
        for row in offsets.windows(2) {
            let len = (row[1] - row[0]) as usize;
            repetition.push(0, 1);
            if len == 0 {
                definition.push(self.empty_level as u32, 1);
            } else {
                repetition.push(1, len - 1);
                definition.push(self.entry_level as u32, len);
            }
        }
        // Every row's entries, one after the other.
        let row_keys = &keys[offsets[0] as usize..offsets[list.len()] as usize];
        let indices: Vec<u32> = row_keys.iter().map(|&k| to_group[k as usize]).collect();
        let levels = repetition.levels;
        let mut page = Vec::with_capacity(indices.len() + 64);
        repetition.finish_into(&mut page);
        definition.finish_into(&mut page);
        let width = bit_width(self.texts.len().saturating_sub(1) as u32).max(1);
        page.push(width as u8);
        bit_pack(&mut page, width, &indices);

        let compressed = self
            .compressor
            .compress(&page)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        self.pages.push(DataPage {
            compressed: compressed.into(),
            uncompressed_len: page.len(),
            levels: levels as u32,
            rows: list.len(),
        });
        self.rows += list.len();
        Ok(())
    }

    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = self.texts.len() as u32;
        self.texts.push(text.to_owned());
        self.index.insert(text.to_owned(), i);
        i
    }

    /// The row group's column chunk (its bytes and what the row group needs to
    /// know of them); the leaf is then ready for the next row group.
    pub(super) fn finish(&mut self) -> Result<(Bytes, ColumnCloseResult)> {
        let mut dictionary = Vec::new();
        for text in &self.texts {
            dictionary.extend_from_slice(&(text.len() as u32).to_le_bytes());
            dictionary.extend_from_slice(text.as_bytes());
        }
        let compressed = self
            .compressor
            .compress(&dictionary)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        let dictionary_page = CompressedPage::new(
            Page::DictionaryPage {
                buf: compressed.into(),
                num_values: self.texts.len() as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            },
            dictionary.len(),
        );

        let mut sink = TrackedWrite::new(Vec::new());
        let mut writer = SerializedPageWriter::new(&mut sink);
        let written = writer.write_page(dictionary_page)?;
        let mut uncompressed_size = written.uncompressed_size;
        // The data pages follow the dictionary page.
        let data_page_offset = written.bytes_written as i64;
        let mut locations = Vec::with_capacity(self.pages.len());
        let (mut levels, mut first_row) = (0i64, 0i64);
        for page in self.pages.drain(..) {
            let written = writer.write_page(CompressedPage::new(
                Page::DataPage {
                    buf: page.compressed,
                    num_values: page.levels,
                    encoding: Encoding::RLE_DICTIONARY,
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
        let metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.compression)
            .set_encodings(vec![
                Encoding::PLAIN,
                Encoding::RLE,
                Encoding::RLE_DICTIONARY,
            ])
            .set_num_values(levels)
            .set_total_compressed_size(bytes.len() as i64)
            .set_total_uncompressed_size(uncompressed_size as i64)
            .set_dictionary_page_offset(Some(0))
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
        self.texts.clear();
        self.index.clear();
        self.rows = 0;
        Ok((bytes, close))
    }
}

/// The bits that hold `max`.
fn bit_width(max: u32) -> u32 {
    32 - max.leading_zeros()
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

/// Bit-packed runs of at most 63 groups of 8 values (a one-byte header, as
/// every reader expects), the last group padded with zeros.
fn bit_pack(out: &mut Vec<u8>, width: u32, values: &[u32]) {
    const RUN: usize = 63 * 8;
    for run in values.chunks(RUN) {
        let groups = run.len().div_ceil(8);
        uleb128(out, ((groups as u64) << 1) | 1);
        for group in run.chunks(8) {
            if width <= 8 {
                // 8 values of up to 8 bits: one word.
                let packed = (group.iter().enumerate())
                    .fold(0u64, |p, (j, &v)| p | u64::from(v) << (j as u32 * width));
                out.extend_from_slice(&packed.to_le_bytes()[..width as usize]);
                continue;
            }
            // 8 values of up to 32 bits: at most 256 bits, packed low bits first.
            let mut packed = [0u64; 4];
            for (j, &value) in group.iter().enumerate() {
                let bit = j as u32 * width;
                let (word, shift) = ((bit / 64) as usize, bit % 64);
                packed[word] |= u64::from(value) << shift;
                if shift + width > 64 {
                    packed[word + 1] |= u64::from(value) >> (64 - shift);
                }
            }
            let mut bytes = [0u8; 32];
            for (chunk, word) in bytes.chunks_exact_mut(8).zip(packed) {
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            out.extend_from_slice(&bytes[..width as usize]);
        }
    }
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
            bit_pack(&mut out, width, &values);
            let mut expected = Vec::new();
            for run in values.chunks(504) {
                uleb128(&mut expected, ((run.len().div_ceil(8) as u64) << 1) | 1);
                expected.extend(packed_bit_by_bit(width, run));
            }
            assert_eq!(out, expected, "width {width}");
        }
    }
}
