//! The chart, drawn on the server as SVG with `plotters`: no JavaScript, and
//! the page shows it inline.

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::data;
use super::queries::{Metric, Series};

/// Chart size in SVG user units (the page scales it to its width).
const WIDTH: u32 = 960;
const HEIGHT: u32 = 380;

/// The per-browser chart preference (kept in the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartStyle {
    /// One line per region.
    #[default]
    Lines,
    /// Lines with a translucent area below.
    Area,
}

impl ChartStyle {
    /// Both styles, in menu order.
    pub const ALL: [ChartStyle; 2] = [ChartStyle::Lines, ChartStyle::Area];

    /// The form value.
    pub fn slug(self) -> &'static str {
        match self {
            ChartStyle::Lines => "lines",
            ChartStyle::Area => "area",
        }
    }

    /// The display name.
    pub fn label(self) -> &'static str {
        match self {
            ChartStyle::Lines => "Lines",
            ChartStyle::Area => "Areas",
        }
    }
}

/// One colour per region (by its position in [`data::REGIONS`]), as `#rrggbb`.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (0x25, 0x63, 0xeb),
    (0xe1, 0x1d, 0x48),
    (0x05, 0x96, 0x69),
    (0xd9, 0x77, 0x06),
    (0x7c, 0x3a, 0xed),
    (0x08, 0x91, 0xb2),
    (0x92, 0x40, 0x0e),
    (0x65, 0xa3, 0x0d),
];

/// The colour of the region with this slug, as CSS.
pub fn region_color(slug: &str) -> String {
    let (r, g, b) = PALETTE[color_index(slug)];
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn color_index(slug: &str) -> usize {
    data::REGIONS
        .iter()
        .position(|r| r.slug == slug)
        .unwrap_or(0)
        % PALETTE.len()
}

/// A compact number: `1.2M`, `34.5k`, `870`.
pub fn compact(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if abs >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if abs >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// Draws `series` as an SVG document.
pub fn render(
    series: &Series,
    metric: Metric,
    style: ChartStyle,
    (start, end): (i32, i32),
    dark: bool,
) -> String {
    let mut svg = String::new();
    if let Err(e) = draw(&mut svg, series, metric, style, (start, end), dark) {
        tracing::warn!(error = %e, "chart drawing failed");
        return format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"><text x="20" y="40">chart error</text></svg>"##
        );
    }
    svg
}

fn draw<'a>(
    svg: &'a mut String,
    series: &Series,
    metric: Metric,
    style: ChartStyle,
    (start, end): (i32, i32),
    dark: bool,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    // Colours of the page's card (light or dark, from the request context).
    let (background, bold, light, axis, grey) = if dark {
        (
            RGBColor(15, 23, 42),
            RGBColor(51, 65, 85),
            RGBColor(30, 41, 59),
            RGBColor(71, 85, 105),
            RGBColor(148, 163, 184),
        )
    } else {
        (
            WHITE,
            RGBColor(226, 232, 240),
            RGBColor(241, 245, 249),
            RGBColor(203, 213, 225),
            RGBColor(100, 116, 139),
        )
    };
    root.fill(&background)?;
    let points = || series.lines.iter().flat_map(|l| l.points.iter());
    let x0 = points().map(|p| p.0).min().unwrap_or(start).min(start);
    let x1 = points().map(|p| p.0).max().unwrap_or(end).max(x0 + 1);
    let y_max = points().map(|p| p.1).fold(0.0_f64, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let with_year = x1 - x0 > 300;

    let mut chart = ChartBuilder::on(&root)
        .margin_top(18)
        .margin_right(28)
        .margin_left(8)
        .margin_bottom(8)
        .x_label_area_size(34)
        .y_label_area_size(62)
        .build_cartesian_2d(x0..x1, 0.0..y_max)?;
    let money = metric.is_money();
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(10)
        .x_label_formatter(&|x| data::short_day(*x, with_year))
        .y_label_formatter(&|y| {
            if money {
                format!("${}", compact(*y))
            } else {
                compact(*y)
            }
        })
        .bold_line_style(bold)
        .light_line_style(light)
        .axis_style(axis)
        .label_style(("sans-serif", 13).into_font().color(&grey))
        .draw()?;

    if series.lines.iter().all(|l| l.points.is_empty()) {
        root.draw_text(
            "No orders match these filters",
            &("sans-serif", 20).into_font().color(&grey),
            (WIDTH as i32 / 2 - 140, HEIGHT as i32 / 2),
        )?;
    }

    for line in &series.lines {
        let (r, g, b) = PALETTE[color_index(&line.region)];
        let color = RGBColor(r, g, b);
        let points = line.points.iter().copied();
        match style {
            ChartStyle::Lines => {
                chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
            }
            ChartStyle::Area => {
                chart.draw_series(
                    AreaSeries::new(points, 0.0, color.mix(0.12))
                        .border_style(color.stroke_width(2)),
                )?;
            }
        }
    }
    root.present()?;
    Ok(())
}
