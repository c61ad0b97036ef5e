//! Charts: loading, dependencies, values. (Being written.)
