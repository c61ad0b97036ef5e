//! The dynamic value type. (Being written.)
