//! The `Content-Type` Go's `net/http` gives a response body whose handler named none: Go's
//! gateway writes the reply payload without a type, so its server derives one from the first
//! 512 bytes (the WHATWG MIME sniffing subset of Go's `http.DetectContentType`). The gateway
//! sends the same, so that clients written against the Go server see the same header.

/// How many leading bytes are looked at.
const SNIFF_LEN: usize = 512;

const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const BINARY: &str = "application/octet-stream";

/// One signature, tried in table order; the first that matches names the type.
enum Sig {
    /// An HTML tag, case-insensitive for its letters, after leading white space and followed
    /// by a space or `>`.
    Html(&'static [u8]),
    /// A prefix, byte for byte.
    Exact(&'static [u8], &'static str),
    /// A prefix compared under a mask (`data & mask == pattern`), optionally after leading
    /// white space.
    Masked {
        mask: &'static [u8],
        pattern: &'static [u8],
        skip_ws: bool,
        ct: &'static str,
    },
    /// An ISO base media file whose `ftyp` box names an `mp4` brand.
    Mp4,
}

const fn masked(mask: &'static [u8], pattern: &'static [u8], ct: &'static str) -> Sig {
    Sig::Masked {
        mask,
        pattern,
        skip_ws: false,
        ct,
    }
}

/// RIFF containers: the 4 size bytes are ignored.
const RIFF_MASK: &[u8] = b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF";

static SIGNATURES: &[Sig] = &[
    Sig::Html(b"<!DOCTYPE HTML"),
    Sig::Html(b"<HTML"),
    Sig::Html(b"<HEAD"),
    Sig::Html(b"<SCRIPT"),
    Sig::Html(b"<IFRAME"),
    Sig::Html(b"<H1"),
    Sig::Html(b"<DIV"),
    Sig::Html(b"<FONT"),
    Sig::Html(b"<TABLE"),
    Sig::Html(b"<A"),
    Sig::Html(b"<STYLE"),
    Sig::Html(b"<TITLE"),
    Sig::Html(b"<B"),
    Sig::Html(b"<BODY"),
    Sig::Html(b"<BR"),
    Sig::Html(b"<P"),
    Sig::Html(b"<!--"),
    Sig::Masked {
        mask: b"\xFF\xFF\xFF\xFF\xFF",
        pattern: b"<?xml",
        skip_ws: true,
        ct: "text/xml; charset=utf-8",
    },
    Sig::Exact(b"%PDF-", "application/pdf"),
    Sig::Exact(b"%!PS-Adobe-", "application/postscript"),
    // Byte order marks.
    masked(
        b"\xFF\xFF\x00\x00",
        b"\xFE\xFF\x00\x00",
        "text/plain; charset=utf-16be",
    ),
    masked(
        b"\xFF\xFF\x00\x00",
        b"\xFF\xFE\x00\x00",
        "text/plain; charset=utf-16le",
    ),
    masked(b"\xFF\xFF\xFF\x00", b"\xEF\xBB\xBF\x00", TEXT),
    // Images.
    Sig::Exact(b"\x00\x00\x01\x00", "image/x-icon"),
    Sig::Exact(b"\x00\x00\x02\x00", "image/x-icon"),
    Sig::Exact(b"BM", "image/bmp"),
    Sig::Exact(b"GIF87a", "image/gif"),
    Sig::Exact(b"GIF89a", "image/gif"),
    masked(
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF",
        b"RIFF\x00\x00\x00\x00WEBPVP",
        "image/webp",
    ),
    Sig::Exact(b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    Sig::Exact(b"\xFF\xD8\xFF", "image/jpeg"),
    // Audio and video.
    masked(RIFF_MASK, b"FORM\x00\x00\x00\x00AIFF", "audio/aiff"),
    Sig::Exact(b"ID3", "audio/mpeg"),
    Sig::Exact(b"OggS\x00", "application/ogg"),
    Sig::Exact(b"MThd\x00\x00\x00\x06", "audio/midi"),
    masked(RIFF_MASK, b"RIFF\x00\x00\x00\x00AVI ", "video/avi"),
    masked(RIFF_MASK, b"RIFF\x00\x00\x00\x00WAVE", "audio/wave"),
    Sig::Mp4,
    Sig::Exact(b"\x1A\x45\xDF\xA3", "video/webm"),
    // Fonts: an Embedded OpenType file has "LP" at offset 34.
    Sig::Masked {
        mask: &[
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0xFF, 0xFF,
        ],
        pattern: &[
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, b'L', b'P',
        ],
        skip_ws: false,
        ct: "application/vnd.ms-fontobject",
    },
    Sig::Exact(b"\x00\x01\x00\x00", "font/ttf"),
    Sig::Exact(b"OTTO", "font/otf"),
    Sig::Exact(b"ttcf", "font/collection"),
    Sig::Exact(b"wOFF", "font/woff"),
    Sig::Exact(b"wOF2", "font/woff2"),
    // Archives.
    Sig::Exact(b"\x1F\x8B\x08", "application/x-gzip"),
    Sig::Exact(b"PK\x03\x04", "application/zip"),
    Sig::Exact(b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    Sig::Exact(b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    Sig::Exact(b"\x00asm", "application/wasm"),
];

/// The type Go's `net/http` would send for a response body starting with `body`.
pub(super) fn content_type(body: &[u8]) -> &'static str {
    let data = &body[..body.len().min(SNIFF_LEN)];
    let first = data
        .iter()
        .position(|&b| !matches!(b, b'\t' | b'\n' | 0x0C | b'\r' | b' '))
        .unwrap_or(data.len());
    SIGNATURES
        .iter()
        .find_map(|sig| matches(sig, data, first))
        .unwrap_or_else(|| text_or_binary(&data[first..]))
}

fn matches(sig: &Sig, data: &[u8], first: usize) -> Option<&'static str> {
    match *sig {
        Sig::Html(tag) => {
            let d = &data[first..];
            let fits = d.len() > tag.len()
                && tag.iter().zip(d).all(|(&t, &b)| {
                    let b = if t.is_ascii_uppercase() { b & 0xDF } else { b };
                    t == b
                })
                && matches!(d[tag.len()], b' ' | b'>');
            fits.then_some(HTML)
        }
        Sig::Exact(prefix, ct) => data.starts_with(prefix).then_some(ct),
        Sig::Masked {
            mask,
            pattern,
            skip_ws,
            ct,
        } => {
            let d = if skip_ws { &data[first..] } else { data };
            let fits = d.len() >= pattern.len()
                && pattern
                    .iter()
                    .zip(mask)
                    .zip(d)
                    .all(|((&p, &m), &b)| b & m == p);
            fits.then_some(ct)
        }
        Sig::Mp4 => is_mp4(data).then_some("video/mp4"),
    }
}

fn is_mp4(data: &[u8]) -> bool {
    if data.len() < 12 {
        return false;
    }
    let box_size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if data.len() < box_size || box_size % 4 != 0 || &data[4..8] != b"ftyp" {
        return false;
    }
    // Brands from offset 8 in steps of 4, skipping the minor version at 12.
    (8..box_size)
        .step_by(4)
        .filter(|&at| at != 12)
        .any(|at| data.get(at..at + 3) == Some(b"mp4".as_slice()))
}

/// Text unless a control byte other than the usual white space (and ESC) appears.
fn text_or_binary(data: &[u8]) -> &'static str {
    let binary = data.iter().any(|&b| {
        b <= 0x08 || b == 0x0B || (0x0E..=0x1A).contains(&b) || (0x1C..=0x1F).contains(&b)
    });
    if binary {
        BINARY
    } else {
        TEXT
    }
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn payloads_get_the_type_go_sniffs() {
        assert_eq!(content_type(br#"{"C":56}"#), "text/plain; charset=utf-8");
        // MsgPack {"C":56}: bytes >= 0x80 are not binary in the sniffing table.
        assert_eq!(content_type(b"\x81\xa1C\x38"), "text/plain; charset=utf-8");
        // Protobuf field 1 varint: 0x08 is a control byte.
        assert_eq!(content_type(b"\x08\x38"), "application/octet-stream");
        assert_eq!(content_type(b"  <html><body>"), "text/html; charset=utf-8");
        assert_eq!(content_type(b"<htmlx"), "text/plain; charset=utf-8");
        assert_eq!(content_type(b"\n<?xml version"), "text/xml; charset=utf-8");
        assert_eq!(content_type(b"%PDF-1.7"), "application/pdf");
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(content_type(b"RIFF\x01\x02\x03\x04WAVEfmt "), "audio/wave");
        assert_eq!(
            content_type(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42"),
            "video/mp4"
        );
        assert_eq!(content_type(b"\x1f\x8b\x08\x00"), "application/x-gzip");
        assert_eq!(content_type(b"\xEF\xBB\xBFhi"), "text/plain; charset=utf-8");
        // Only the first 512 bytes count.
        let mut late = vec![b'a'; 600];
        late[550] = 0;
        assert_eq!(content_type(&late), "text/plain; charset=utf-8");
    }
}
