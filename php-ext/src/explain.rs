//! The broker's or Stora's explanation of a client error (issue 17, item 6):
//! `ClientErrorException::getDescription()` and `getDetails()`, written into
//! private properties of `TesseraException` by [`crate::errors`].

use ext_php_rs::builders::FunctionBuilder;
use ext_php_rs::flags::{DataType, MethodFlags};
use ext_php_rs::types::{ZendCallable, Zval};
use ext_php_rs::zend::ExecuteData;

use crate::errors::{method, read_property};

/// Private property of `TesseraException`: the explanation (a string).
pub const P_DESCRIPTION: &str = "description";
/// Private property of `TesseraException`: Stora's `details`, decoded (an array).
pub const P_DETAILS: &str = "details";

/// `JSON_BIGINT_AS_STRING`: an integer beyond PHP's range stays exact, as text.
const JSON_BIGINT_AS_STRING: i64 = 2;

/// Stora's `details` text (compact JSON from the core) decoded by PHP's own
/// `json_decode($text, true, 512, JSON_BIGINT_AS_STRING)`, as the pure-PHP
/// package does (`PhpErrors::decodeDetails`), so both give the same array,
/// keys in the body's order. `None` when absent, not an array or object, or
/// cut by the core's bound (a cut text ends in `…` and is not JSON).
pub fn decode_details(text: Option<&str>) -> Option<Zval> {
    let text = text?;
    let decode = ZendCallable::try_from_name("json_decode").ok()?;
    let value = decode.try_call(vec![&text, &true, &512_i64, &JSON_BIGINT_AS_STRING]).ok()?;
    value.is_array().then_some(value)
}

/// `ClientErrorException::getDescription()`.
extern "C" fn get_description(ex: &mut ExecuteData, retval: &mut Zval) {
    read_property(ex, retval, P_DESCRIPTION);
}

/// `ClientErrorException::getDetails()`.
extern "C" fn get_details(ex: &mut ExecuteData, retval: &mut Zval) {
    read_property(ex, retval, P_DETAILS);
}

/// The methods `ClientErrorException` adds to `TesseraException`.
pub fn client_error_methods() -> Vec<(FunctionBuilder<'static>, MethodFlags)> {
    vec![
        method(
            "getDescription",
            get_description,
            DataType::String,
            true,
            &[
                " The broker's `error_description` or Stora's `error.message`, if the error body gave one:",
                " control and bidi characters dropped, at most 512 characters (a cut one ends in `…`).",
            ],
        ),
        method(
            "getDetails",
            get_details,
            DataType::Array,
            true,
            &[" Stora's `error.details` (objects as associative arrays), if non-empty and within 2048 bytes."],
        ),
    ]
}
