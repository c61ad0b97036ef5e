//! Git reference planning and resolution. The input is lines: the first five are
//! `spec.ref`'s branch, tag, semver, name and commit (empty lines are absent fields), the
//! rest are advertised refs `name target [peeled]`. Planning and resolving must return a
//! value or an error, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_fuzz::reference::{RemoteRef, parse_range, plan, refspec, resolve, shallow};
use weir_fuzz::source::GitRepositoryRef;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let mut field = || lines.next().filter(|l| !l.is_empty()).map(str::to_string);
    let reference = GitRepositoryRef {
        branch: field(),
        tag: field(),
        semver: field(),
        name: field(),
        commit: field(),
    };
    let refs: Vec<RemoteRef> = lines
        .filter_map(|line| {
            let mut words = line.split(' ');
            Some(RemoteRef {
                name: words.next()?.to_string(),
                target: words.next()?.to_string(),
                peeled: words.next().map(str::to_string),
            })
        })
        .collect();
    if let Some(range) = &reference.semver {
        let _ = parse_range(range);
    }
    let Ok(plan) = plan(Some(&reference)) else {
        return;
    };
    let _ = shallow(&plan);
    if let Ok(resolved) = resolve(&plan, &refs) {
        let _ = refspec(&plan, &resolved);
    }
});
