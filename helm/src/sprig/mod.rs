//! The Sprig v3 function library. (Being written.)
