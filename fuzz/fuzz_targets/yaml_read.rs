//! The YAML reader, both dialects: any text must give documents or an error, never a panic,
//! and stay within the memory and time limits the runner sets.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = weir_yaml::from_str_multi(&text);
    let _ = weir_yaml::from_str_yaml11_multi(&text);
});
