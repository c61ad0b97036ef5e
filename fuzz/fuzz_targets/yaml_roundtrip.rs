//! The emitter against the reader: whatever the reader returns, `to_string_multi` prints
//! text that reads back to the same values (numbers compared by value: the emitter prints
//! the float `1e10` as `10000000000`, which reads back as an integer, as in Go).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(values) = weir_yaml::from_str_multi(&text) else {
        return;
    };
    let emitted = weir_yaml::to_string_multi(&values);
    match weir_yaml::from_str_multi(&emitted) {
        Ok(again) => assert!(
            again.len() == values.len()
                && again
                    .iter()
                    .zip(&values)
                    .all(|(a, b)| weir_fuzz::same_values(a, b)),
            "emitted text reads back differently\n--- input\n{text}\n--- emitted\n{emitted}\n--- values\n{values:?}\n--- read back\n{again:?}"
        ),
        Err(e) => panic!(
            "emitted text does not read back: {e}\n--- input\n{text}\n--- emitted\n{emitted}"
        ),
    }
});
