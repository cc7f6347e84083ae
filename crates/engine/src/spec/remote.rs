//! `remote:`: the pipeline's default remote, so that `repro pull PIPELINE`
//! alone works after a clone. A relative directory is taken relative to the
//! file that says it (the pipeline, or the file it `extends:`).

use std::path::Path;

use super::error::SpecError;
use super::node::Node;
use crate::remote::RemoteUrl;

/// The `remote:` of the merged tree, resolved; `None` when absent or null.
pub fn parse(root: &Node, pipeline_dir: &Path) -> Result<Option<RemoteUrl>, SpecError> {
    let Some(n) = root.get("remote").filter(|n| !n.is_null()) else {
        return Ok(None);
    };
    let text = n.as_str().ok_or_else(|| {
        SpecError::at(
            &n.mark,
            "remote",
            format!(
                "expected a string (s3://BUCKET/PREFIX, https://…, file:///DIR or a directory), found {}",
                n.type_name()
            ),
        )
    })?;
    let base = n
        .mark
        .file
        .parent()
        .filter(|d| n.mark.file.is_file() && !d.as_os_str().is_empty())
        .unwrap_or(pipeline_dir);
    RemoteUrl::parse(text, base)
        .map(Some)
        .map_err(|m| SpecError::at(&n.mark, "remote", m))
}
