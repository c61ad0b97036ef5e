//! Work spread over the machine's cores where the pieces are independent (parsing each
//! template file, reading each rendered document's head), with results kept in input order.

/// `items.iter().map(f).collect()`, run on up to all cores in contiguous chunks (at least
/// `min_chunk` items each). Each worker has an 8 MiB stack: parsing recurses once per
/// nesting level (bounded by the parsers' depth limits).
pub(crate) fn map<T, R, F>(items: &[T], min_chunk: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(items.len().div_ceil(min_chunk.max(1)));
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let handle = std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, move || part.iter().map(f).collect::<Vec<R>>());
                (handle, part)
            })
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for (handle, part) in handles {
            match handle.map(|h| h.join()) {
                Ok(Ok(results)) => out.extend(results),
                // A worker that could not start (or panicked): do its part here.
                _ => out.extend(part.iter().map(f)),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_order() {
        let items: Vec<usize> = (0..1000).collect();
        assert_eq!(
            super::map(&items, 8, |i| i * 2),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
        assert_eq!(super::map(&[] as &[usize], 8, |i| *i), Vec::<usize>::new());
    }
}
