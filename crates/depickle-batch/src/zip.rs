//! Rewriting the pickle members of a zip archive (PyTorch checkpoints) while every other member
//! is copied byte for byte, in the same order, with the same compression method.
//!
//! PyTorch stores tensor data uncompressed and pads local headers (an extra field with id `FB`)
//! so that the data of each member starts on a 64-byte boundary. When a rewritten pickle changes
//! size, depickle pads the rewritten member's own local header so that everything after it moves
//! by a multiple of 64 bytes: the following members (headers, padding and data) are then copied
//! verbatim and stay aligned. Only offsets in the central directory and end records change.

use std::io::Write;

/// A parsed archive: where its parts are.
struct Archive {
    entries: Vec<Entry>,
    /// Offset and size of the central directory.
    cd_start: usize,
    cd_end: usize,
    /// Offset of the zip64 end record, if any.
    zip64_eocd: Option<usize>,
    zip64_locator: Option<usize>,
    eocd: usize,
}

struct Entry {
    name: String,
    /// Offset of this entry's record in the central directory, and its length.
    cd_off: usize,
    cd_len: usize,
    local_off: u64,
    /// Where in the central record the local offset is stored (classic field or zip64 extra).
    local_off_field: OffsetField,
    method: u16,
    csize: u64,
}

#[derive(Clone, Copy)]
enum OffsetField {
    Classic,
    /// Position of the 8-byte offset inside the central record.
    Zip64(usize),
}

/// Error text for a malformed archive.
pub type ZipError = String;

/// The `len` bytes at `o`, or an error naming the offset: never panics, even when `o + len`
/// overflows (offsets come from the file and can be anything).
fn span(d: &[u8], o: usize, len: usize) -> Option<&[u8]> {
    d.get(o..o.checked_add(len)?)
}

fn u16at(d: &[u8], o: usize) -> Result<u16, ZipError> {
    span(d, o, 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| format!("byte {o}: zip structure truncated"))
}
fn u32at(d: &[u8], o: usize) -> Result<u32, ZipError> {
    span(d, o, 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("byte {o}: zip structure truncated"))
}
fn u64at(d: &[u8], o: usize) -> Result<u64, ZipError> {
    span(d, o, 8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        .ok_or_else(|| format!("byte {o}: zip structure truncated"))
}

fn parse(d: &[u8]) -> Result<Archive, ZipError> {
    // End of central directory: last occurrence of its signature within the last 64 KiB + 22.
    let lo = d.len().saturating_sub(22 + 65535);
    let eocd = (lo..d.len().saturating_sub(21))
        .rev()
        .find(|&i| &d[i..i + 4] == b"PK\x05\x06")
        .ok_or_else(|| {
            format!(
                "byte {}: no end-of-central-directory record in the last 64 KiB (not a complete zip file)",
                d.len()
            )
        })?;
    let mut count = u64::from(u16at(d, eocd + 10)?);
    let mut cd_size = u64::from(u32at(d, eocd + 12)?);
    let mut cd_start = u64::from(u32at(d, eocd + 16)?);
    let (mut zip64_eocd, mut zip64_locator) = (None, None);
    if eocd >= 20 && &d[eocd - 20..eocd - 16] == b"PK\x06\x07" {
        let loc = eocd - 20;
        let z = u64at(d, loc + 8)? as usize;
        if span(d, z, 4) != Some(b"PK\x06\x06") {
            return Err(format!("byte {z}: bad zip64 end record"));
        }
        count = u64at(d, z + 32)?;
        cd_size = u64at(d, z + 40)?;
        cd_start = u64at(d, z + 48)?;
        zip64_eocd = Some(z);
        zip64_locator = Some(loc);
    }
    let cd_start = cd_start as usize;
    let cd_end = cd_start
        .checked_add(cd_size as usize)
        .filter(|&e| e <= d.len())
        .ok_or_else(|| {
            format!("byte {eocd}: the central directory it describes runs past the end of the file")
        })?;
    let mut entries = Vec::new();
    let mut o = cd_start;
    for _ in 0..count {
        if o >= cd_end || span(d, o, 4) != Some(b"PK\x01\x02") {
            return Err(format!("byte {o}: bad central directory entry"));
        }
        let method = u16at(d, o + 10)?;
        let mut csize = u64::from(u32at(d, o + 20)?);
        let usize_ = u64::from(u32at(d, o + 24)?);
        let nlen = usize::from(u16at(d, o + 28)?);
        let xlen = usize::from(u16at(d, o + 30)?);
        let clen = usize::from(u16at(d, o + 32)?);
        let mut local_off = u64::from(u32at(d, o + 42)?);
        let name_bytes =
            span(d, o + 46, nlen).ok_or_else(|| format!("byte {o}: zip entry name truncated"))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let mut field = OffsetField::Classic;
        // zip64 extra: fields present only for the values set to 0xFFFFFFFF, in a fixed order.
        // Every value is read from inside its own extra field, and the record (fixed part, name,
        // extras, comment) must lie inside the central directory: a zip64 offset field found
        // here is later overwritten in place within the record, so it must fit in it.
        let len = 46 + nlen + xlen + clen;
        if o + len > cd_end {
            return Err(format!(
                "byte {o}: central directory entry runs past the end of the central directory"
            ));
        }
        let mut x = o + 46 + nlen;
        let xend = x + xlen;
        while x + 4 <= xend {
            let id = u16at(d, x)?;
            let flen = usize::from(u16at(d, x + 2)?);
            let fend = x + 4 + flen;
            if fend > xend {
                return Err(format!(
                    "byte {x}: zip extra field of {flen} bytes runs past its entry's extra data"
                ));
            }
            if id == 1 {
                let mut p = x + 4;
                let take = |p: &mut usize| -> Result<u64, ZipError> {
                    if *p + 8 > fend {
                        return Err(format!(
                            "byte {x}: zip64 extra field too short for the values it must hold"
                        ));
                    }
                    let v = u64at(d, *p)?;
                    *p += 8;
                    Ok(v)
                };
                if usize_ == 0xFFFF_FFFF {
                    take(&mut p)?;
                }
                if csize == 0xFFFF_FFFF {
                    csize = take(&mut p)?;
                }
                if local_off == 0xFFFF_FFFF {
                    field = OffsetField::Zip64(p - o);
                    local_off = take(&mut p)?;
                }
            }
            x = fend;
        }
        if local_off >= cd_start as u64 {
            return Err(format!(
                "byte {o}: member {name} claims to start at byte {local_off}, inside or after the central directory"
            ));
        }
        entries.push(Entry {
            name,
            cd_off: o,
            cd_len: len,
            local_off,
            local_off_field: field,
            method,
            csize,
        });
        o += len;
    }
    // The end records follow the central directory and do not overlap it or each other: the
    // rewriter patches them in place relative to where they start.
    let end_records = zip64_eocd.unwrap_or(eocd);
    if cd_end > end_records {
        return Err(format!(
            "byte {end_records}: end-of-central-directory record overlaps the central directory"
        ));
    }
    if let (Some(z), Some(loc)) = (zip64_eocd, zip64_locator) {
        if z + 56 > loc {
            return Err(format!("byte {z}: zip64 end record overlaps its locator"));
        }
    }
    Ok(Archive {
        entries,
        cd_start,
        cd_end,
        zip64_eocd,
        zip64_locator,
        eocd,
    })
}

/// Names of the members of a zip archive that look like pickles (`*.pkl`), with their bytes.
pub fn pickle_members(d: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
    let a = parse(d)?;
    let mut out = Vec::new();
    for e in &a.entries {
        if is_pickle_member(&e.name) {
            let (_, data) = member_data(d, e)?;
            out.push((e.name.clone(), data));
        }
    }
    Ok(out)
}

fn is_pickle_member(name: &str) -> bool {
    name.ends_with(".pkl") || name.ends_with(".pickle")
}

/// Decompressed data of a member, and the offset where its local header's data starts.
fn member_data(d: &[u8], e: &Entry) -> Result<(usize, Vec<u8>), ZipError> {
    let lo = e.local_off as usize;
    if span(d, lo, 4) != Some(b"PK\x03\x04") {
        return Err(format!("byte {lo}: bad local header for {}", e.name));
    }
    let nlen = usize::from(u16at(d, lo + 26)?);
    let xlen = usize::from(u16at(d, lo + 28)?);
    let start = lo + 30 + nlen + xlen;
    let raw = span(d, start, usize::try_from(e.csize).unwrap_or(usize::MAX))
        .ok_or_else(|| format!("byte {start}: member {} data truncated", e.name))?;
    let data = match e.method {
        0 => raw.to_vec(),
        8 => crate::inflate_deflate(raw)
            .map_err(|err| format!("byte {start}: member {}: cannot inflate: {err}", e.name))?,
        m => {
            return Err(format!(
                "byte {lo}: member {}: unsupported zip compression method {m}",
                e.name
            ))
        }
    };
    Ok((start, data))
}

/// Rewrite the archive. `convert` gets each pickle member's name and data and returns new data,
/// or `None` to keep the member as it is. Returns the new archive bytes.
pub fn rewrite<E>(
    d: &[u8],
    mut convert: impl FnMut(&str, &[u8]) -> Result<Option<Vec<u8>>, E>,
) -> Result<Result<Vec<u8>, ZipError>, E> {
    let a = match parse(d) {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    let mut order: Vec<usize> = (0..a.entries.len()).collect();
    order.sort_by_key(|&i| a.entries[i].local_off);
    let mut out = Vec::with_capacity(d.len() + 4096);
    let first = order
        .first()
        .map(|&i| a.entries[i].local_off as usize)
        .unwrap_or(a.cd_start);
    out.extend_from_slice(&d[..first.min(d.len())]);
    let mut new_off = vec![0u64; a.entries.len()];
    // (crc, csize, usize) of rewritten members, by entry index.
    let mut patched: Vec<Option<(u32, u64, u64)>> = vec![None; a.entries.len()];
    for (k, &i) in order.iter().enumerate() {
        let e = &a.entries[i];
        let seg_start = e.local_off as usize;
        let seg_end = order
            .get(k + 1)
            .map(|&j| a.entries[j].local_off as usize)
            .unwrap_or(a.cd_start);
        if seg_end < seg_start || seg_end > d.len() {
            return Ok(Err(format!(
                "byte {seg_start}: member {}: overlapping zip members",
                e.name
            )));
        }
        new_off[i] = out.len() as u64;
        let replacement = if is_pickle_member(&e.name) {
            let (_, data) = match member_data(d, e) {
                Ok(x) => x,
                Err(err) => return Ok(Err(err)),
            };
            convert(&e.name, &data)?.map(|new| (data.len(), new))
        } else {
            None
        };
        let Some((_, new)) = replacement else {
            out.extend_from_slice(&d[seg_start..seg_end]);
            continue;
        };
        // New local header: same fields, sizes and CRC recomputed, no data descriptor.
        let lo = seg_start;
        let nlen = usize::from(u16at(d, lo + 26).unwrap_or(0));
        let name = &d[lo + 30..lo + 30 + nlen];
        let payload = if e.method == 8 {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&new).expect("writing to a Vec");
            enc.finish().expect("writing to a Vec")
        } else {
            new.clone()
        };
        let crc = crc32fast::hash(&new);
        let old_len = (seg_end - seg_start) as i64;
        let base_len = (30 + nlen + payload.len()) as i64;
        // Padding extra field so the size change is a multiple of 64.
        let mut pad = 0usize;
        if (base_len - old_len).rem_euclid(64) != 0 {
            pad = (64 - (base_len + 4 - old_len).rem_euclid(64)) as usize % 64 + 4;
        }
        let flags = u16at(d, lo + 6).unwrap_or(0) & !0x0008;
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&d[lo + 4..lo + 6]); // version needed
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&d[lo + 10..lo + 14]); // time, date
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&(new.len() as u32).to_le_bytes());
        out.extend_from_slice(&(nlen as u16).to_le_bytes());
        out.extend_from_slice(&(pad as u16).to_le_bytes());
        out.extend_from_slice(name);
        if pad > 0 {
            out.extend_from_slice(b"FB");
            out.extend_from_slice(&((pad - 4) as u16).to_le_bytes());
            out.resize(out.len() + pad - 4, b'Z');
        }
        out.extend_from_slice(&payload);
        patched[i] = Some((crc, payload.len() as u64, new.len() as u64));
    }
    let new_cd_start = out.len() as u64;
    // Central directory, in its own order, with offsets and rewritten sizes patched.
    for (i, e) in a.entries.iter().enumerate() {
        let mut rec = d[e.cd_off..e.cd_off + e.cd_len].to_vec();
        match e.local_off_field {
            OffsetField::Classic => {
                let off = u32::try_from(new_off[i]).unwrap_or(u32::MAX);
                rec[42..46].copy_from_slice(&off.to_le_bytes());
            }
            OffsetField::Zip64(p) => rec[p..p + 8].copy_from_slice(&new_off[i].to_le_bytes()),
        }
        if let Some((crc, cs, us)) = patched[i] {
            let flags = u16::from_le_bytes([rec[8], rec[9]]) & !0x0008;
            rec[8..10].copy_from_slice(&flags.to_le_bytes());
            rec[16..20].copy_from_slice(&crc.to_le_bytes());
            if rec[20..24] != [0xff; 4] {
                rec[20..24].copy_from_slice(&(cs as u32).to_le_bytes());
            }
            if rec[24..28] != [0xff; 4] {
                rec[24..28].copy_from_slice(&(us as u32).to_le_bytes());
            }
        }
        out.extend_from_slice(&rec);
    }
    let new_cd_end = out.len() as u64;
    let delta = new_cd_start as i64 - a.cd_start as i64;
    // Anything between the central directory and the end records is copied as is.
    let tail_start = a.zip64_eocd.unwrap_or(a.eocd).max(a.cd_end);
    out.extend_from_slice(&d[a.cd_end..tail_start]);
    let mut tail = d[tail_start..].to_vec();
    if let (Some(z), Some(loc)) = (a.zip64_eocd, a.zip64_locator) {
        let zr = z - tail_start;
        tail[zr + 48..zr + 56].copy_from_slice(&new_cd_start.to_le_bytes());
        tail[zr + 40..zr + 48].copy_from_slice(&(new_cd_end - new_cd_start).to_le_bytes());
        let lr = loc - tail_start;
        let new_z = (z as i64 + delta) as u64;
        tail[lr + 8..lr + 16].copy_from_slice(&new_z.to_le_bytes());
    }
    let er = a.eocd - tail_start;
    if tail[er + 16..er + 20] != [0xff; 4] {
        let off = u32::try_from(new_cd_start).unwrap_or(u32::MAX);
        tail[er + 16..er + 20].copy_from_slice(&off.to_le_bytes());
    }
    out.extend_from_slice(&tail);
    Ok(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (method 0) zip of `members`; with `zip64_offsets`, every central record stores
    /// its local offset as 0xFFFFFFFF plus a zip64 extra field of `extra_len` bytes.
    fn make_zip(members: &[(&str, &[u8])], zip64_offsets: Option<u16>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in members {
            let off = out.len() as u32;
            let crc = crc32fast::hash(data);
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            let extra: Vec<u8> = match zip64_offsets {
                None => Vec::new(),
                Some(len) => {
                    let mut x = vec![1, 0];
                    x.extend_from_slice(&len.to_le_bytes());
                    x.extend(std::iter::repeat_n(0u8, usize::from(len)));
                    if len >= 8 {
                        x[4..12].copy_from_slice(&u64::from(off).to_le_bytes());
                    }
                    x
                }
            };
            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0u8; 6]); // comment len, disk, internal attrs
            central.extend_from_slice(&[0u8; 4]); // external attrs
            let stored_off = if zip64_offsets.is_some() {
                u32::MAX
            } else {
                off
            };
            central.extend_from_slice(&stored_off.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
            central.extend_from_slice(&extra);
        }
        let cd_start = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        let n = members.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_start.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    fn grow(_: &str, data: &[u8]) -> Result<Option<Vec<u8>>, ()> {
        let mut v = data.to_vec();
        v.extend_from_slice(b"more bytes");
        Ok(Some(v))
    }

    #[test]
    fn well_formed_zip64_offsets_are_rewritten() {
        let z = make_zip(&[("a/data.pkl", b"\x80\x02N."), ("a/x", b"xyz")], Some(8));
        let out = rewrite(&z, grow)
            .unwrap()
            .expect("valid zip64 archive rewrites");
        let members = pickle_members(&out).expect("output parses");
        assert_eq!(
            members,
            vec![("a/data.pkl".to_string(), b"\x80\x02N.more bytes".to_vec())]
        );
    }

    /// Regression: a zip64 extra field too short for the local offset it must hold made the
    /// rewriter patch bytes past the end of its central record (index out of range, exit 101).
    #[test]
    fn short_zip64_extra_field_is_an_error_not_a_panic() {
        for len in [0u16, 4] {
            let z = make_zip(&[("a/data.pkl", b"\x80\x02N.")], Some(len));
            let err = rewrite(&z, grow)
                .unwrap()
                .expect_err("short zip64 field refused");
            assert!(err.contains("zip64 extra field too short"), "{err}");
            assert!(
                err.starts_with("byte "),
                "error names its byte offset: {err}"
            );
        }
    }

    /// Every single-byte corruption of a small zip64 archive parses or fails cleanly; none
    /// panics in `pickle_members` or `rewrite`, and every error names a byte offset.
    #[test]
    fn corrupted_archives_never_panic() {
        let z = make_zip(&[("a/data.pkl", b"\x80\x02N."), ("b.pkl", b"N.")], Some(8));
        for i in 0..z.len() {
            for v in [0x00u8, 0x01, 0x08, 0x40, 0x7f, 0x80, 0xfe, 0xff] {
                let mut m = z.clone();
                m[i] = v;
                for err in [pickle_members(&m).err(), rewrite(&m, grow).unwrap().err()]
                    .into_iter()
                    .flatten()
                {
                    assert!(err.starts_with("byte "), "no offset in {err:?}");
                }
            }
        }
        for cut in 0..z.len() {
            for err in [
                pickle_members(&z[..cut]).err(),
                rewrite(&z[..cut], grow).unwrap().err(),
            ]
            .into_iter()
            .flatten()
            {
                assert!(err.starts_with("byte "), "no offset in {err:?}");
            }
        }
    }
}
