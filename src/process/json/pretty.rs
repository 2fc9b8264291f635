//! The serializer behind [`super`]'s pretty JSON: byte for byte what serde_json writes with
//! its `PrettyFormatter` (two spaces an indent level, the same escapes, the same rules for
//! enums, map keys, floats that are not finite), with DEL and the C1 controls written as `\u`
//! escapes too, while each string is written: no second pass over the text is needed.
//!
//! Why not serde_json's own serializer: it writes every bracket, indent step, quote and part
//! of a string as a call of its own onto an `io::Write`, and what it writes then needs a
//! second scan for the controls it leaves raw. For `plan --json` (130 MB for 100,000 tasks)
//! that was most of the command's writing time. Here the text goes into a `Vec<u8>`: a line
//! break and its indentation are one copy, a string without escapes one or two
//! ([`super::string`]). Numbers are still written by serde_json's formatter (`itoa`, `ryu`);
//! the tests in `pretty_tests.rs` compare this writer with `serde_json::to_string_pretty` made
//! terminal-safe.

use serde::ser::{self, Impossible, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};

use super::string::string;

type Error = serde_json::Error;
type Result<T = ()> = std::result::Result<T, Error>;

/// Writes `value` as pretty JSON, control characters escaped, at the end of `out`.
pub(super) fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result {
    value.serialize(&mut Pretty { out, depth: 0 })
}

/// The serializer: the text so far, and how many arrays and objects are open.
struct Pretty<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
}

/// A line feed and the indentation of up to 64 levels, a prefix of which starts each line.
const BREAK: [u8; 129] = {
    let mut text = [b' '; 129];
    text[0] = b'\n';
    text
};

impl<'a> Pretty<'a> {
    /// A line feed and the current depth's indentation.
    #[inline]
    fn line(&mut self) {
        let len = 1 + 2 * self.depth;
        if len <= 16 {
            // One copy of a fixed size (no call), the excess cut off.
            let end = self.out.len() + len;
            self.out.extend_from_slice(&BREAK[..16]);
            self.out.truncate(end);
            return;
        }
        let mut spaces = len - 1;
        let first = spaces.min(BREAK.len() - 1);
        self.out.extend_from_slice(&BREAK[..1 + first]);
        spaces -= first;
        while spaces > 0 {
            let more = spaces.min(BREAK.len() - 1);
            self.out.extend_from_slice(&BREAK[1..1 + more]);
            spaces -= more;
        }
    }

    /// Opens an array (`[`) or an object (`{`).
    fn open(&mut self, bracket: u8) {
        self.depth += 1;
        self.out.push(bracket);
    }

    /// Closes an array or object with `bracket`, on a line of its own if it holds anything.
    fn close(&mut self, bracket: u8, held: bool) {
        self.depth -= 1;
        if held {
            self.line();
        }
        self.out.push(bracket);
    }

    /// Opens the object of an enum's variant, `{"variant": `, whose value comes next.
    fn variant(&mut self, variant: &str) {
        self.open(b'{');
        self.line();
        string(self.out, variant);
        self.out.extend_from_slice(b": ");
    }

    /// Opens a list or object of `len` items (when known) closed by `close`; one of none is
    /// written whole at once, as serde_json does.
    fn compound<'s>(
        &'s mut self,
        open: u8,
        close: u8,
        len: Option<usize>,
        variant: bool,
    ) -> Compound<'s, 'a> {
        self.open(open);
        let state = if len == Some(0) {
            self.close(close, false);
            State::Empty
        } else {
            State::First
        };
        Compound {
            ser: self,
            close,
            state,
            variant,
        }
    }
}

/// Where a list or object is: closed already (it holds nothing), before its first item, or
/// after one.
#[derive(PartialEq)]
enum State {
    /// Closed already.
    Empty,
    /// Before its first item.
    First,
    /// After an item.
    Rest,
}

/// An open list or object of `ser`, closed by `close`; `variant`: inside the object of an
/// enum's variant, closed after it.
struct Compound<'s, 'a> {
    ser: &'s mut Pretty<'a>,
    close: u8,
    state: State,
    variant: bool,
}

impl Compound<'_, '_> {
    /// Starts an item's line: `,` after the one before, a line feed, the indentation.
    #[inline]
    fn next(&mut self) {
        if self.state == State::Rest {
            self.ser.out.push(b',');
        }
        self.state = State::Rest;
        self.ser.line();
    }

    /// Writes an item of a list.
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.next();
        value.serialize(&mut *self.ser)
    }

    /// Writes the value of an object's entry, after its key.
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.ser.out.extend_from_slice(b": ");
        value.serialize(&mut *self.ser)
    }

    /// Closes the list or object, then the variant's object around it.
    fn end(self) -> Result {
        if self.state != State::Empty {
            self.ser.close(self.close, self.state == State::Rest);
        }
        if self.variant {
            self.ser.close(b'}', true);
        }
        Ok(())
    }
}

/// Writes a number with serde_json's formatter.
macro_rules! number {
    ($($method:ident $write:ident $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result {
            CompactFormatter.$write(self.out, v).map_err(Error::io)
        }
    )*};
}

impl<'s, 'a> ser::Serializer for &'s mut Pretty<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, 'a>;
    type SerializeTuple = Compound<'s, 'a>;
    type SerializeTupleStruct = Compound<'s, 'a>;
    type SerializeTupleVariant = Compound<'s, 'a>;
    type SerializeMap = Compound<'s, 'a>;
    type SerializeStruct = Compound<'s, 'a>;
    type SerializeStructVariant = Compound<'s, 'a>;

    number!(serialize_i8 write_i8 i8, serialize_i16 write_i16 i16, serialize_i32 write_i32 i32,
        serialize_i64 write_i64 i64, serialize_i128 write_i128 i128, serialize_u8 write_u8 u8,
        serialize_u16 write_u16 u16, serialize_u32 write_u32 u32, serialize_u64 write_u64 u64,
        serialize_u128 write_u128 u128);

    fn serialize_bool(self, v: bool) -> Result {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        CompactFormatter.write_f32(self.out, v).map_err(Error::io)
    }
    fn serialize_f64(self, v: f64) -> Result {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        CompactFormatter.write_f64(self.out, v).map_err(Error::io)
    }
    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        string(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        ser::Serializer::collect_seq(self, v)
    }
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.variant(variant);
        value.serialize(&mut *self)?;
        self.close(b'}', true);
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq> {
        Ok(self.compound(b'[', b']', len, false))
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self::SerializeSeq> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        self.variant(variant);
        Ok(self.compound(b'[', b']', Some(len), true))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap> {
        Ok(self.compound(b'{', b'}', len, false))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self::SerializeStruct> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        self.variant(variant);
        Ok(self.compound(b'{', b'}', Some(len), true))
    }
}

/// The list forms, each an item at a time.
macro_rules! list {
    ($($trait:ident $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                self.item(value)
            }
            fn end(self) -> Result {
                Compound::end(self)
            }
        }
    )*};
}
list!(SerializeSeq serialize_element, SerializeTuple serialize_element,
    SerializeTupleStruct serialize_field, SerializeTupleVariant serialize_field);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.next();
        key.serialize(Key(&mut *self.ser))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.value(value)
    }
    fn end(self) -> Result {
        Compound::end(self)
    }
}

/// The object forms: a struct's fields are named by strings.
macro_rules! object {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result {
                self.next();
                string(self.ser.out, key);
                self.value(value)
            }
            fn end(self) -> Result {
                Compound::end(self)
            }
        }
    )*};
}
object!(SerializeStruct, SerializeStructVariant);

/// A map's key, which JSON makes a string: as serde_json, a string, a character, a unit
/// variant's name, or a boolean or number in quotes; anything else is an error.
struct Key<'s, 'a>(&'s mut Pretty<'a>);

/// Writes a boolean or number key in quotes.
macro_rules! quoted {
    ($key:ident, $method:ident, $v:ident) => {{
        $key.0.out.push(b'"');
        ser::Serializer::$method(&mut *$key.0, $v)?;
        $key.0.out.push(b'"');
        Ok(())
    }};
    ($($method:ident $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result {
            quoted!(self, $method, v)
        }
    )*};
}

/// Refuses a key that is no string.
macro_rules! refused {
    ($($method:ident ($($arg:ty),*) $ok:ty),*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<$ok> {
            Err(ser::Error::custom("key must be a string"))
        }
    )*};
}

impl ser::Serializer for Key<'_, '_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    quoted!(serialize_bool bool, serialize_i8 i8, serialize_i16 i16, serialize_i32 i32,
        serialize_i64 i64, serialize_i128 i128, serialize_u8 u8, serialize_u16 u16,
        serialize_u32 u32, serialize_u64 u64, serialize_u128 u128);
    refused!(serialize_bytes(&[u8]) (), serialize_none() (), serialize_unit() (),
        serialize_unit_struct(&'static str) (),
        serialize_seq(Option<usize>) Self::SerializeSeq,
        serialize_tuple(usize) Self::SerializeTuple,
        serialize_tuple_struct(&'static str, usize) Self::SerializeTupleStruct,
        serialize_tuple_variant(&'static str, u32, &'static str, usize)
            Self::SerializeTupleVariant,
        serialize_map(Option<usize>) Self::SerializeMap,
        serialize_struct(&'static str, usize) Self::SerializeStruct,
        serialize_struct_variant(&'static str, u32, &'static str, usize)
            Self::SerializeStructVariant);

    fn serialize_f32(self, v: f32) -> Result {
        if !v.is_finite() {
            return Err(ser::Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        quoted!(self, serialize_f32, v)
    }
    fn serialize_f64(self, v: f64) -> Result {
        if !v.is_finite() {
            return Err(ser::Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        quoted!(self, serialize_f64, v)
    }
    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        string(self.0.out, v);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(ser::Error::custom("key must be a string"))
    }
}
