//! Which stage and output hold each object a lockfile reaches, so `verify`
//! can say which artifact a damaged object belongs to.

use std::collections::HashMap;

use crate::store::{Lockfile, Store};

/// Digest → `stage S output P` (`… file F` inside a directory), every holder.
pub fn holders(store: &Store, lock: &Lockfile) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (stage, entry) in &lock.stages {
        for (output, e) in &entry.outputs {
            let what = format!("stage {stage} output {output}");
            if e.dir {
                out.entry(e.digest.clone())
                    .or_default()
                    .push(format!("{what} (its manifest)"));
                // A damaged manifest hides its files; it is reported itself.
                if let Ok(m) = store.manifest(&e.digest) {
                    for (rel, f) in m.files {
                        out.entry(f.digest)
                            .or_default()
                            .push(format!("{what} file {rel}"));
                    }
                }
            } else {
                out.entry(e.digest.clone()).or_default().push(what);
            }
        }
    }
    out
}

/// `stage S output P; …: ` for a digest the lockfile reaches, else empty.
pub fn prefix(holders: &HashMap<String, Vec<String>>, digest: &str) -> String {
    match holders.get(digest) {
        Some(v) => format!("{}: ", v.join("; ")),
        None => String::new(),
    }
}
