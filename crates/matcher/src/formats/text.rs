//! Free text: the whole line is one field named [`TEXT_FIELD`], tokenised; the time, if any,
//! is the line's leading timestamp.

use crate::extract::LineCtx;

/// Field name reported for hits in free text.
pub const TEXT_FIELD: &str = "text";

/// Bytes at the start of a line kept for timestamp parsing.
const TIME_PREFIX: usize = 40;

pub(crate) fn parse_line(line: &[u8], ctx: &mut LineCtx<'_>) {
    ctx.set_time(&line[..line.len().min(TIME_PREFIX)]);
    ctx.text(TEXT_FIELD, line);
}
