//! Go text/template. (Being written.)
