//! Drawing folded stacks with inferno: [`render_svg`], and [`Graph`], the inferno options that
//! `bpprof diff` shares.

use std::io::{self, Write};

use inferno::flamegraph::color::{BasicPalette, Palette, PaletteMap};

use super::{
    Folded, Mode, BACKPRESSURED_COLOR, BACKPRESSURED_FRAME, BUSY_COLOR, BUSY_FRAME, IDLE_COLOR,
    IDLE_FRAME,
};

/// The narrowest SVG drawn, pixels: narrower widths leave no room for a frame (inferno pads 10
/// pixels on each side). [`render_svg`] and [`crate::diff::render_diff_svg`] refuse them.
pub const MIN_WIDTH: usize = 100;

/// How to draw the SVG.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SvgOptions {
    /// Title. Default (`None`): [`Folded::title`].
    pub title: Option<String>,
    /// Subtitle. Default (`None`): [`Folded::subtitle`].
    pub subtitle: Option<String>,
    /// Width in pixels, at least [`MIN_WIDTH`]. Default (`None`): fluid (the width of the
    /// browser window).
    pub width: Option<usize>,
}

/// Draws `folded` as an interactive SVG flame graph (inferno).
///
/// Frames are coloured with inferno's `hot` palette (`blue` in [`Mode::OffCpu`]), by a hash of
/// the function name, so a function has the same colour in every graph. In [`Mode::Mixed`] the
/// root frames have fixed colours: [`BUSY_COLOR`], [`BACKPRESSURED_COLOR`], [`IDLE_COLOR`].
pub fn render_svg(folded: &Folded, options: &SvgOptions, out: impl Write) -> io::Result<()> {
    let lines: Vec<String> = folded.lines().collect();
    let graph = Graph {
        title: options.title.clone().unwrap_or_else(|| folded.title()),
        subtitle: options
            .subtitle
            .clone()
            .unwrap_or_else(|| folded.subtitle()),
        count_name: "samples".to_owned(),
        width: options.width,
        mode: folded.mode,
        negate_differentials: false,
    };
    graph.render(lines.iter().map(String::as_str), out)
}

/// What the flame graphs of this crate (`bpprof flame` and `bpprof diff`) pass to inferno: the
/// one place where inferno's options are built.
pub(crate) struct Graph {
    /// Title.
    pub(crate) title: String,
    /// Subtitle.
    pub(crate) subtitle: String,
    /// What a count is, in the tooltips (`samples`, `ps per record`).
    pub(crate) count_name: String,
    /// Width in pixels; `None`: fluid.
    pub(crate) width: Option<usize>,
    /// The mode folded (chooses the palette).
    pub(crate) mode: Mode,
    /// inferno's `negate_differentials`, for lines with two counts.
    pub(crate) negate_differentials: bool,
}

impl Graph {
    /// Draws folded `lines` (one count each, or two for a differential graph) with inferno.
    ///
    /// The palette: inferno's `hot` (`blue` in [`Mode::OffCpu`]), deterministic by function name,
    /// with the state root frames in their fixed colours. In a differential graph inferno colours
    /// every frame by its change instead (red: more, blue: less; white: unchanged).
    pub(crate) fn render<'l>(
        &self,
        lines: impl IntoIterator<Item = &'l str>,
        out: impl Write,
    ) -> io::Result<()> {
        if let Some(width) = self.width.filter(|&w| w < MIN_WIDTH) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a flame graph {width} pixels wide is too narrow: give at least {MIN_WIDTH}"
                ),
            ));
        }
        let mut palette = PaletteMap::default();
        palette.insert(BUSY_FRAME, BUSY_COLOR);
        palette.insert(BACKPRESSURED_FRAME, BACKPRESSURED_COLOR);
        palette.insert(IDLE_FRAME, IDLE_COLOR);
        let mut opts = inferno::flamegraph::Options::default();
        opts.title = self.title.clone();
        opts.subtitle = Some(self.subtitle.clone());
        opts.count_name = self.count_name.clone();
        opts.image_width = self.width;
        opts.deterministic = true;
        opts.negate_differentials = self.negate_differentials;
        opts.colors = Palette::Basic(match self.mode {
            Mode::OffCpu => BasicPalette::Blue,
            Mode::Mixed | Mode::OnCpu => BasicPalette::Hot,
        });
        opts.palette_map = Some(&mut palette);
        inferno::flamegraph::from_lines(&mut opts, lines, out)
    }
}
