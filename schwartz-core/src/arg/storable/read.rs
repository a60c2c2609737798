//! Parsing a Storable image (`freeze` or `nfreeze` output) into a [`Tree`] of Perl
//! values, bounded by the image's own size.
//!
//! The format, as Storable 2.x/3.x writes it in memory (no `pst0` file prefix):
//!
//! - a header: one byte `(major << 1) | netorder` (major 2), the minor version, and for
//!   native order (`freeze`) the byte-order string (its length, then e.g. `12345678`,
//!   whose length is the size of a Perl integer) and the sizes of `int`, `long`, pointers
//!   and `NV`;
//! - one object: an opcode byte and its data. Every object read gets the next tag number
//!   (0, 1, ...), and `SX_OBJECT <tag>` refers back to an object already read (shared
//!   references). Lengths and counts are 32-bit, big-endian in network order.
//!
//! Every node read consumes at least one byte of input, so the tree has at most as many
//! nodes as the image has bytes, and no length or count read from the image is trusted
//! beyond the bytes left: a count only reserves as many slots as the rest of the input
//! could fill.

use super::{Key, Node, Tree};

/// How deep the image may nest (references, arrays, hashes) before it is refused, the
/// same bound as the other decoders ([`crate::arg_cap::MAX_DEPTH`]).
const MAX_DEPTH: usize = crate::arg_cap::MAX_DEPTH;

// Storable's opcodes (Storable.xs, `SX_*`).
const SX_OBJECT: u8 = 0;
const SX_LSCALAR: u8 = 1;
const SX_ARRAY: u8 = 2;
const SX_HASH: u8 = 3;
const SX_REF: u8 = 4;
const SX_UNDEF: u8 = 5;
const SX_INTEGER: u8 = 6;
const SX_DOUBLE: u8 = 7;
const SX_BYTE: u8 = 8;
const SX_NETINT: u8 = 9;
const SX_SCALAR: u8 = 10;
const SX_TIED_ARRAY: u8 = 11;
const SX_TIED_HASH: u8 = 12;
const SX_TIED_SCALAR: u8 = 13;
const SX_SV_UNDEF: u8 = 14;
const SX_SV_YES: u8 = 15;
const SX_SV_NO: u8 = 16;
const SX_BLESS: u8 = 17;
const SX_IX_BLESS: u8 = 18;
const SX_HOOK: u8 = 19;
const SX_OVERLOAD: u8 = 20;
const SX_TIED_KEY: u8 = 21;
const SX_TIED_IDX: u8 = 22;
const SX_UTF8STR: u8 = 23;
const SX_LUTF8STR: u8 = 24;
const SX_FLAG_HASH: u8 = 25;
const SX_CODE: u8 = 26;
const SX_WEAKREF: u8 = 27;
const SX_WEAKOVERLOAD: u8 = 28;
const SX_VSTRING: u8 = 29;
const SX_LVSTRING: u8 = 30;
const SX_SVUNDEF_ELEM: u8 = 31;
const SX_REGEXP: u8 = 32;
const SX_LOBJECT: u8 = 33;
const SX_BOOLEAN_TRUE: u8 = 34;
const SX_BOOLEAN_FALSE: u8 = 35;

// Key flags of SX_FLAG_HASH entries (Storable.xs, `SHV_K_*`).
const SHV_K_UTF8: u8 = 0x01;
const SHV_K_WASUTF8: u8 = 0x02;
const SHV_K_ISSV: u8 = 0x08;
const SHV_K_PLACEHOLDER: u8 = 0x10;

/// The newest minor version of the binary format read (Storable 3.32 writes 12).
pub(crate) const MAX_MINOR: u8 = 12;

/// Whether `bytes` start with a Storable header this parser reads: major version 2 in
/// network (`0x05`) or native (`0x04`) order, and a minor version up to [`MAX_MINOR`].
pub(crate) fn has_magic(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && matches!(bytes[0], 0x04 | 0x05) && bytes[1] <= MAX_MINOR
}

/// The start of the messages of [`ParseError::Unsupported`] errors while parsing.
const UNSUPPORTED: &str = "\u{1}";

/// Why an image does not parse.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// Not a Storable image (or a damaged one): bytes that merely look like one.
    Malformed(String),
    /// A Storable image holding what serde values cannot hold (a blessed object, code,
    /// a tied variable, a cycle, ...).
    Unsupported(String),
}

/// Parses a whole image: header, one object, nothing after it.
pub(crate) fn parse(bytes: &[u8]) -> Result<Tree, ParseError> {
    parse_image(bytes).map_err(|m| match m.strip_prefix(UNSUPPORTED) {
        Some(m) => ParseError::Unsupported(m.to_string()),
        None => ParseError::Malformed(m),
    })
}

fn parse_image(bytes: &[u8]) -> Result<Tree, String> {
    if !has_magic(bytes) {
        return Err(String::from(
            "not a Storable image (no major-2 header of freeze or nfreeze)",
        ));
    }
    let mut r = Reader {
        input: bytes,
        pos: 2,
        net: bytes[0] == 0x05,
        big_endian: true,
        iv_size: 8,
        nodes: Vec::new(),
        depth: 0,
    };
    if !r.net {
        r.native_header()?;
    }
    let root = r.object()?;
    if r.pos != bytes.len() {
        return Err(format!(
            "{} bytes left after the Storable value ({} bytes in all)",
            bytes.len() - r.pos,
            bytes.len()
        ));
    }
    Ok(Tree {
        nodes: r.nodes,
        root,
    })
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    /// Network order (`nfreeze`): lengths big-endian, numbers portable.
    net: bool,
    /// Native order only: the writer's byte order.
    big_endian: bool,
    /// Native order only: the size of a Perl integer (`SX_INTEGER`).
    iv_size: usize,
    nodes: Vec<Node>,
    depth: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.input.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.left() {
            return Err(format!(
                "the Storable image claims {n} bytes at offset {} but only {} are left",
                self.pos,
                self.left()
            ));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    /// A 32-bit integer: big-endian in network order, the writer's order otherwise.
    fn i32(&mut self) -> Result<i32, String> {
        let b: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| String::from("short read"))?;
        Ok(if self.net || self.big_endian {
            i32::from_be_bytes(b)
        } else {
            i32::from_le_bytes(b)
        })
    }

    /// A length or count (a non-negative 32-bit integer).
    fn len(&mut self, what: &str) -> Result<usize, String> {
        let n = self.i32()?;
        usize::try_from(n).map_err(|_| format!("negative {what} {n} in the Storable image"))
    }

    fn native_header(&mut self) -> Result<(), String> {
        let n = usize::from(self.byte()?);
        let order = self.take(n)?.to_vec();
        let (big, size) = match order.as_slice() {
            b"1234" => (false, 4),
            b"12345678" => (false, 8),
            b"4321" => (true, 4),
            b"87654321" => (true, 8),
            other => {
                return Err(format!(
                    "unsupported byte order {:?} in a native Storable image",
                    String::from_utf8_lossy(other)
                ))
            }
        };
        self.big_endian = big;
        self.iv_size = size;
        let sizes = self.take(4)?;
        let (int, nv) = (sizes[0], sizes[3]);
        if int != 4 || nv != 8 {
            return Err(format!(
                "unsupported native Storable image: sizeof(int) {int}, sizeof(NV) {nv} (4 and 8 are read)"
            ));
        }
        Ok(())
    }

    /// Adds a node, its index being its tag.
    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Reads one object; returns its node index.
    fn object(&mut self) -> Result<usize, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "the Storable value nests more than {MAX_DEPTH} levels deep"
            ));
        }
        self.depth += 1;
        let result = self.object_inner();
        self.depth -= 1;
        result
    }

    fn object_inner(&mut self) -> Result<usize, String> {
        let at = self.pos;
        let op = self.byte()?;
        match op {
            SX_OBJECT => {
                let tag = self.len("object tag")?;
                match self.nodes.get(tag) {
                    None => Err(format!("the Storable image refers to object {tag}, which it has not stored")),
                    Some(Node::Pending) => Err(format!(
                        "{UNSUPPORTED}the Storable value is cyclic (it contains itself): serde values cannot be",
                    )),
                    Some(_) => Ok(tag),
                }
            }
            SX_SCALAR | SX_UTF8STR => {
                let n = usize::from(self.byte()?);
                self.string(n, op == SX_UTF8STR)
            }
            SX_LSCALAR | SX_LUTF8STR => {
                let n = self.len("string length")?;
                self.string(n, op == SX_LUTF8STR)
            }
            SX_UNDEF | SX_SV_UNDEF | SX_SVUNDEF_ELEM => Ok(self.push(Node::Undef)),
            SX_SV_YES | SX_BOOLEAN_TRUE => Ok(self.push(Node::Bool(true))),
            SX_SV_NO | SX_BOOLEAN_FALSE => Ok(self.push(Node::Bool(false))),
            SX_BYTE => {
                let b = self.byte()?;
                Ok(self.push(Node::Int(i64::from(b) - 128)))
            }
            SX_NETINT => {
                let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| String::from("short read"))?;
                Ok(self.push(Node::Int(i64::from(i32::from_be_bytes(b)))))
            }
            SX_INTEGER if !self.net => {
                let n = self.iv_size;
                let big = self.big_endian;
                let b = self.take(n)?;
                let v = if n == 4 {
                    let a: [u8; 4] = b.try_into().map_err(|_| String::from("short read"))?;
                    i64::from(if big { i32::from_be_bytes(a) } else { i32::from_le_bytes(a) })
                } else {
                    let a: [u8; 8] = b.try_into().map_err(|_| String::from("short read"))?;
                    if big { i64::from_be_bytes(a) } else { i64::from_le_bytes(a) }
                };
                Ok(self.push(Node::Int(v)))
            }
            SX_DOUBLE if !self.net => {
                let big = self.big_endian;
                let a: [u8; 8] = self.take(8)?.try_into().map_err(|_| String::from("short read"))?;
                let v = if big { f64::from_be_bytes(a) } else { f64::from_le_bytes(a) };
                Ok(self.push(Node::Double(v)))
            }
            SX_INTEGER | SX_DOUBLE => Err(format!(
                "a native number (opcode {op}) at offset {at} of a network-order Storable image"
            )),
            SX_REF | SX_WEAKREF | SX_OVERLOAD | SX_WEAKOVERLOAD => {
                let tag = self.push(Node::Pending);
                let target = self.object()?;
                self.nodes[tag] = Node::Ref(target);
                Ok(tag)
            }
            SX_ARRAY => self.array(),
            SX_HASH => self.hash(false),
            SX_FLAG_HASH => self.hash(true),
            SX_BLESS => {
                let n = self.bless_len()?;
                let class = String::from_utf8_lossy(self.take(n)?).into_owned();
                Err(format!(
                    "{UNSUPPORTED}a blessed object (class {class}) cannot be decoded: only plain hashes, arrays and scalars can"
                ))
            }
            SX_IX_BLESS => Err(format!(
                "{UNSUPPORTED}a blessed object cannot be decoded: only plain hashes, arrays and scalars can",
            )),
            SX_HOOK => Err(format!(
                "{UNSUPPORTED}a blessed object with a STORABLE_freeze hook cannot be decoded: only plain hashes, arrays and scalars can",
            )),
            SX_CODE => Err(format!(
                "{UNSUPPORTED}a code reference cannot be decoded: only plain hashes, arrays and scalars can",
            )),
            SX_TIED_ARRAY | SX_TIED_HASH | SX_TIED_SCALAR | SX_TIED_KEY | SX_TIED_IDX => Err(
                format!("{UNSUPPORTED}a tied variable cannot be decoded: only plain hashes, arrays and scalars can"),
            ),
            SX_REGEXP => Err(format!(
                "{UNSUPPORTED}a regular expression cannot be decoded: only plain hashes, arrays and scalars can",
            )),
            SX_VSTRING | SX_LVSTRING => Err(format!(
                "{UNSUPPORTED}a version string (v-string) cannot be decoded",
            )),
            SX_LOBJECT => Err(format!(
                "{UNSUPPORTED}an object over 2 GiB (SX_LOBJECT) cannot be decoded",
            )),
            other => Err(format!(
                "unknown Storable opcode {other} at offset {at}"
            )),
        }
    }

    /// A class name's length after `SX_BLESS`: one byte, or `0x80` and a 32-bit length.
    fn bless_len(&mut self) -> Result<usize, String> {
        let b = self.byte()?;
        if b & 0x80 != 0 {
            self.len("class name length")
        } else {
            Ok(usize::from(b))
        }
    }

    fn string(&mut self, n: usize, utf8: bool) -> Result<usize, String> {
        let bytes = self.take(n)?.to_vec();
        if utf8 && std::str::from_utf8(&bytes).is_err() {
            return Err(String::from(
                "a string marked UTF-8 in the Storable image is not valid UTF-8",
            ));
        }
        Ok(self.push(Node::Str { bytes, utf8 }))
    }

    /// How many slots to reserve for a collection claiming `n` entries of at least
    /// `min_bytes` bytes each: never more than the rest of the input could hold.
    fn reserve(&self, n: usize, min_bytes: usize) -> usize {
        n.min(self.left() / min_bytes)
    }

    fn array(&mut self) -> Result<usize, String> {
        let tag = self.push(Node::Pending);
        let n = self.len("array length")?;
        let mut items = Vec::with_capacity(self.reserve(n, 1));
        for _ in 0..n {
            items.push(self.object()?);
        }
        self.nodes[tag] = Node::Array(items);
        Ok(tag)
    }

    fn hash(&mut self, flagged: bool) -> Result<usize, String> {
        let tag = self.push(Node::Pending);
        if flagged {
            self.byte()?; // hash flags (restricted): nothing to keep
        }
        let n = self.len("hash size")?;
        // A value (1 byte at least) and a key length (4 bytes), plus a flag byte.
        let mut entries = Vec::with_capacity(self.reserve(n, 5));
        for _ in 0..n {
            let value = self.object()?;
            let flags = if flagged { self.byte()? } else { 0 };
            let key = if flags & SHV_K_ISSV != 0 {
                let k = self.object()?;
                match &self.nodes[k] {
                    Node::Str { bytes, utf8 } => Key {
                        bytes: bytes.clone(),
                        utf8: *utf8,
                    },
                    Node::Int(i) => Key {
                        bytes: i.to_string().into_bytes(),
                        utf8: false,
                    },
                    _ => return Err(String::from("a hash key that is not a string")),
                }
            } else {
                let len = self.len("hash key length")?;
                let bytes = self.take(len)?.to_vec();
                if flags & SHV_K_UTF8 != 0 {
                    if std::str::from_utf8(&bytes).is_err() {
                        return Err(String::from(
                            "a hash key marked UTF-8 in the Storable image is not valid UTF-8",
                        ));
                    }
                    Key { bytes, utf8: true }
                } else if flags & SHV_K_WASUTF8 != 0 {
                    // A character key Perl downgraded to Latin-1: its characters are the bytes.
                    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
                    Key {
                        bytes: text.into_bytes(),
                        utf8: true,
                    }
                } else {
                    Key { bytes, utf8: false }
                }
            };
            if flags & SHV_K_PLACEHOLDER == 0 {
                entries.push((key, value));
            }
        }
        self.nodes[tag] = Node::Hash(entries);
        Ok(tag)
    }
}
