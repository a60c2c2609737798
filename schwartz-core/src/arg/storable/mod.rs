//! Perl's Storable, both ways: what TheSchwartz stores for a reference argument
//! (`nfreeze`), read into serde values, and written so that a Perl worker's `$job->arg`
//! is the hash or array reference it expects.
//!
//! - [`read`]: the image (header, opcodes, shared-object tags) into a [`Tree`], bounded by
//!   the image's size; blessed objects, code references, tied variables, regexps and cyclic
//!   values are refused with an error naming them;
//! - [`de`]: a serde `Deserializer` over the tree, with Perl's scalar conversions;
//! - [`ser`]: a serde `Serializer` writing `nfreeze` output.
//!
//! Written from Storable's documentation and the images Perl's Storable 3.26 writes; no
//! code of Storable's is used.

mod de;
mod read;
mod ser;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub(crate) use read::has_magic;

/// A Storable (and serde) codec error: the message.
#[derive(Debug)]
pub(crate) struct CodecError(pub(crate) String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

impl serde::de::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

impl serde::ser::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

/// A parsed image: every object read, indexed by its Storable tag, and the top one.
#[derive(Debug)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    root: usize,
}

/// One Perl value.
#[derive(Debug)]
enum Node {
    Undef,
    Int(i64),
    Double(f64),
    Bool(bool),
    /// A string; `utf8` when Perl marked it as characters in UTF-8 (then it is valid).
    Str {
        bytes: Vec<u8>,
        utf8: bool,
    },
    Array(Vec<usize>),
    Hash(Vec<(Key, usize)>),
    Ref(usize),
    /// A reference or container whose contents are still being read.
    Pending,
}

/// A hash key.
#[derive(Debug)]
struct Key {
    bytes: Vec<u8>,
    utf8: bool,
}

/// What a look at bytes that may be a Storable image found.
#[derive(Debug)]
pub(crate) enum Probe {
    /// Not Storable: no header, or bytes after one that are not a valid image (Perl's
    /// TheSchwartz keeps such an argument as the raw bytes too).
    NotStorable,
    /// A Storable image holding what serde values cannot hold (blessed, code, ...).
    Unsupported(String),
    /// A whole image of plain Perl values.
    Plain(Tree),
}

/// Parses `bytes` as a Storable image, if they are one.
pub(crate) fn probe(bytes: &[u8]) -> Probe {
    if !has_magic(bytes) {
        return Probe::NotStorable;
    }
    match read::parse(bytes) {
        Ok(tree) => Probe::Plain(tree),
        Err(read::ParseError::Unsupported(m)) => Probe::Unsupported(m),
        Err(read::ParseError::Malformed(_)) => Probe::NotStorable,
    }
}

/// Decodes a tree parsed from an image of `image_len` bytes as a `T`.
pub(crate) fn from_tree<T: DeserializeOwned>(
    tree: &Tree,
    image_len: usize,
) -> Result<T, CodecError> {
    let walk = de::Walk::new(image_len);
    T::deserialize(de::De::new(tree, tree.root, &walk)?)
}

/// Decodes a whole `freeze` or `nfreeze` image as a `T`.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match read::parse(bytes) {
        Ok(tree) => from_tree(&tree, bytes.len()),
        Err(read::ParseError::Unsupported(m) | read::ParseError::Malformed(m)) => {
            Err(CodecError(m))
        }
    }
}

/// Encodes `value` as `nfreeze(\$value)` would: it must be a hash or an array.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    ser::to_vec(value)
}
