//! The chart, drawn on the server as SVG with `plotters`: no JavaScript, and
//! the page shows it inline.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordi32;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::data;
use super::pages::Numbers;
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

/// A y-axis label: [`compact`] with the visitor's decimal mark (`1,2M` in
/// German), after a `$` for money.
fn y_label(value: f64, money: bool, numbers: Numbers) -> String {
    let number = compact(value).replace('.', numbers.decimal());
    if money { format!("${number}") } else { number }
}

/// Longest day span labelled by weeks; longer spans are labelled by months.
const WEEKLY_MAX_SPAN: i32 = 70;
/// Most week labels on the x axis.
const MAX_WEEK_TICKS: i32 = 10;
/// Most month labels on the x axis.
const MAX_MONTH_TICKS: i32 = 12;
/// Months between month labels, tried in order: monthly, bimonthly,
/// quarterly, half-yearly, yearly, then every 2, 5 and 10 years.
const MONTH_STEPS: [i32; 8] = [1, 2, 3, 6, 12, 24, 60, 120];
/// 1970-01-05, the first Monday of the day numbers.
const A_MONDAY: i32 = 4;
/// The day range [`data::format_day`] writes as `YYYY-MM-DD`
/// (0000-01-01 ..= 9999-12-31).
const DAYS_WITH_FOUR_DIGIT_YEARS: (i32, i32) = (-719_528, 2_932_896);

/// The x-axis ticks for the days `first_day..=last_day`: `(day, label)` on
/// Mondays (`Mar 3`) for spans up to ten weeks, else on the first day of
/// every 1, 2, 3, 6 or 12… months, labelled `Mar`, with the year where it
/// changes (`Jan 2025`, and the first label), or just the year (`2025`)
/// when every label is a January.
pub fn x_ticks(first_day: i32, last_day: i32) -> Vec<(i32, String)> {
    let (low, high) = DAYS_WITH_FOUR_DIGIT_YEARS;
    let first = first_day.min(last_day).clamp(low, high);
    let last = first_day.max(last_day).clamp(low, high);
    if last - first <= WEEKLY_MAX_SPAN {
        week_ticks(first, last)
    } else {
        month_ticks(first, last)
    }
}

/// Every Monday (or every other one, to keep at most [`MAX_WEEK_TICKS`]) of
/// `first..=last`, labelled `Mar 3`.
fn week_ticks(first: i32, last: i32) -> Vec<(i32, String)> {
    // Mondays are numbered from `A_MONDAY`, so a two-week step keeps the
    // same Mondays whatever the range.
    let first_week = (first - A_MONDAY + 6).div_euclid(7);
    let last_week = (last - A_MONDAY).div_euclid(7);
    let weeks = last_week - first_week + 1;
    let step = ((weeks + MAX_WEEK_TICKS - 1) / MAX_WEEK_TICKS).max(1);
    (first_week..=last_week)
        .filter(|week| week.rem_euclid(step) == 0)
        .map(|week| {
            let day = A_MONDAY + week * 7;
            (day, data::short_day(day, false))
        })
        .collect()
}

/// The first days of the months in `first..=last`, every `step` months
/// (counted from January of year 0, so quarters fall on Jan, Apr, Jul, Oct)
/// with the smallest step that keeps at most [`MAX_MONTH_TICKS`].
fn month_ticks(first: i32, last: i32) -> Vec<(i32, String)> {
    let (Some(first_month), Some(last_month)) = (month_number(first), month_number(last)) else {
        return Vec::new();
    };
    // The first month that starts inside the range.
    let first_month = if month_start(first_month) == Some(first) {
        first_month
    } else {
        first_month + 1
    };
    let count =
        |step: i32| (last_month.div_euclid(step) - (first_month - 1).div_euclid(step)).max(0);
    let step = MONTH_STEPS
        .into_iter()
        .find(|&step| count(step) <= MAX_MONTH_TICKS)
        .unwrap_or_else(|| 12 * ((last_month - first_month) / 12 / MAX_MONTH_TICKS + 1));
    let mut ticks = Vec::new();
    for month in (first_month..=last_month).filter(|month| month.rem_euclid(step) == 0) {
        let Some(day) = month_start(month) else {
            continue;
        };
        let label = if step % 12 == 0 {
            month.div_euclid(12).to_string()
        } else {
            let mut label = data::short_day(day, true);
            // The year only on the first label and on Januaries.
            if !ticks.is_empty()
                && month.rem_euclid(12) != 0
                && let Some(space) = label.find(' ')
            {
                label.truncate(space);
            }
            label
        };
        ticks.push((day, label));
    }
    ticks
}

/// The month holding `day`, numbered `year * 12 + month - 1`.
fn month_number(day: i32) -> Option<i32> {
    let text = data::format_day(day);
    let year: i32 = text.get(..4)?.parse().ok()?;
    let month: i32 = text.get(5..7)?.parse().ok()?;
    Some(year * 12 + month - 1)
}

/// The first day of the month numbered as by [`month_number`].
fn month_start(month: i32) -> Option<i32> {
    let (year, month) = (month.div_euclid(12), month.rem_euclid(12) + 1);
    data::parse_day(&format!("{year:04}-{month:02}-01"))
}

/// The x coordinate: day numbers mapped as plotters maps an `i32` range, with
/// the labels and vertical grid lines on [`x_ticks`] instead of round numbers.
struct DayAxis {
    /// The days shown, mapped to pixels.
    days: RangedCoordi32,
    /// `(day, label)` of each labelled grid line.
    ticks: Vec<(i32, String)>,
}

impl DayAxis {
    /// The axis for the days `range` (end included in the ticks).
    fn new(range: Range<i32>) -> Self {
        Self {
            ticks: x_ticks(range.start, range.end),
            days: range.into(),
        }
    }
}

impl Ranged for DayAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = i32;

    /// The pixel of `day`, as for a plain `i32` range.
    fn map(&self, day: &i32, limit: (i32, i32)) -> i32 {
        self.days.map(day, limit)
    }

    /// The tick days for the labelled (bold) grid lines, none for the light
    /// ones: the tick spacing is already the calendar's.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<i32> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.iter().map(|(day, _)| *day).collect()
        }
    }

    /// The days shown.
    fn range(&self) -> Range<i32> {
        self.days.range()
    }
}

impl ValueFormatter<i32> for DayAxis {
    /// `Mar 4` (plotters only calls [`Self::format_ext`]).
    fn format(day: &i32) -> String {
        data::short_day(*day, false)
    }

    /// The tick's label (a plain `Mar 4` for any other day).
    fn format_ext(&self, day: &i32) -> String {
        self.ticks
            .iter()
            .find(|(tick, _)| tick == day)
            .map_or_else(|| Self::format(day), |(_, label)| label.clone())
    }
}

/// Draws `series` as an SVG document, with y-axis numbers written for the
/// visitor (`numbers`).
pub fn render(
    series: &Series,
    metric: Metric,
    style: ChartStyle,
    (start, end): (i32, i32),
    dark: bool,
    numbers: Numbers,
) -> String {
    let mut svg = String::new();
    if let Err(e) = draw(&mut svg, series, metric, style, (start, end), dark, numbers) {
        tracing::warn!(error = %e, "chart drawing failed");
        return format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"><text x="20" y="40">chart error</text></svg>"##
        );
    }
    svg
}

/// Draws the chart into `svg` (see [`render`]).
fn draw<'a>(
    svg: &'a mut String,
    series: &Series,
    metric: Metric,
    style: ChartStyle,
    (start, end): (i32, i32),
    dark: bool,
    numbers: Numbers,
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

    let mut chart = ChartBuilder::on(&root)
        .margin_top(18)
        .margin_right(28)
        .margin_left(8)
        .margin_bottom(8)
        .x_label_area_size(34)
        .y_label_area_size(62)
        .build_cartesian_2d(DayAxis::new(x0..x1), 0.0..y_max)?;
    let money = metric.is_money();
    chart
        .configure_mesh()
        .y_labels(10)
        .y_label_formatter(&|y| y_label(*y, money, numbers))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::queries::{Bucket, Line};

    /// The day number of a `YYYY-MM-DD` date in a test.
    fn day(text: &str) -> i32 {
        data::parse_day(text).expect("a valid test date")
    }

    /// Whether `day` is the first of its month.
    fn is_month_start(day: i32) -> bool {
        data::format_day(day).ends_with("-01")
    }

    /// The text of every `<text>` element of an SVG document.
    fn texts(svg: &str) -> Vec<&str> {
        svg.match_indices("</text>")
            .filter_map(|(end, _)| svg[..end].rsplit_once('>').map(|(_, text)| text.trim()))
            .collect()
    }

    #[test]
    fn six_months_are_labelled_monthly() {
        let ticks = x_ticks(day("2025-01-15"), day("2025-07-10"));
        let labels: Vec<&str> = ticks.iter().map(|(_, label)| label.as_str()).collect();
        assert_eq!(labels, ["Feb 2025", "Mar", "Apr", "May", "Jun", "Jul"]);
        assert!(ticks.iter().all(|&(d, _)| is_month_start(d)));
        assert_eq!(ticks[0].0, day("2025-02-01"));
    }

    #[test]
    fn three_weeks_are_labelled_on_mondays() {
        let ticks = x_ticks(day("2025-03-05"), day("2025-03-26"));
        assert_eq!(
            ticks,
            [
                (day("2025-03-10"), "Mar 10".to_owned()),
                (day("2025-03-17"), "Mar 17".to_owned()),
                (day("2025-03-24"), "Mar 24".to_owned()),
            ]
        );
        assert!(ticks.iter().all(|&(d, _)| (d - A_MONDAY) % 7 == 0));
    }

    #[test]
    fn ten_weeks_have_at_most_ten_monday_labels() {
        let ticks = x_ticks(day("2025-01-01"), day("2025-03-12"));
        assert_eq!(ticks.len(), 10, "{ticks:?}");
        assert!(ticks.iter().all(|&(d, _)| (d - A_MONDAY) % 7 == 0));
        // Eleven Mondays: every other one.
        let ticks = x_ticks(day("2025-01-06"), day("2025-03-17"));
        assert_eq!(ticks.len(), 6, "{ticks:?}");
        assert!(ticks.windows(2).all(|pair| pair[1].0 - pair[0].0 == 14));
        assert!(ticks.iter().all(|&(d, _)| (d - A_MONDAY) % 7 == 0));
    }

    #[test]
    fn six_years_are_labelled_on_a_few_month_starts() {
        let ticks = x_ticks(day("2019-03-10"), day("2025-03-09"));
        assert!((6..=12).contains(&ticks.len()), "{ticks:?}");
        assert!(ticks.iter().all(|&(d, _)| is_month_start(d)));
        // Half-years: January and July, January with its year.
        assert_eq!(ticks[0], (day("2019-07-01"), "Jul 2019".to_owned()));
        assert_eq!(ticks[1], (day("2020-01-01"), "Jan 2020".to_owned()));
        assert_eq!(ticks[2], (day("2020-07-01"), "Jul".to_owned()));
    }

    #[test]
    fn decades_are_labelled_by_year() {
        let ticks = x_ticks(day("1970-01-01"), day("2025-06-30"));
        assert!((2..=12).contains(&ticks.len()), "{ticks:?}");
        assert!(
            ticks
                .iter()
                .all(|&(d, _)| data::format_day(d).ends_with("-01-01"))
        );
        assert_eq!(ticks[0], (day("1970-01-01"), "1970".to_owned()));
    }

    #[test]
    fn a_range_starting_on_a_month_start_labels_that_day() {
        let ticks = x_ticks(day("2025-01-01"), day("2025-12-31"));
        assert_eq!(ticks.len(), 12);
        assert_eq!(ticks[0], (day("2025-01-01"), "Jan 2025".to_owned()));
        assert_eq!(ticks[11], (day("2025-12-01"), "Dec".to_owned()));
    }

    #[test]
    fn tiny_reversed_and_extreme_ranges_do_not_panic() {
        let one = day("2025-03-05");
        assert!(x_ticks(one, one).is_empty());
        let monday = day("2025-03-03");
        assert_eq!(x_ticks(monday, monday), [(monday, "Mar 3".to_owned())]);
        assert_eq!(
            x_ticks(day("2025-06-30"), day("2025-01-01")),
            x_ticks(day("2025-01-01"), day("2025-06-30"))
        );
        assert!(x_ticks(i32::MIN, i32::MAX).len() <= MAX_MONTH_TICKS as usize);
        let _ = x_ticks(i32::MAX, i32::MAX);
    }

    #[test]
    fn y_labels_use_the_visitors_decimal_mark() {
        let german = Numbers::for_locale(Some("de"));
        assert_eq!(y_label(1_234_567.0, false, german), "1,2M");
        assert_eq!(y_label(1_500.0, true, german), "$1,5k");
        assert_eq!(y_label(870.0, false, german), "870");
        assert_eq!(y_label(1_234_567.0, false, Numbers::default()), "1.2M");
    }

    /// A weekly series over the first half of 2025, as the queries return it
    /// (buckets start on Mondays, the first before the range).
    fn half_year() -> Series {
        let first_monday = day("2024-12-30");
        let points = (0..27)
            .map(|week| {
                (
                    first_monday + week * 7,
                    1_500_000.0 + f64::from(week) * 20_000.0,
                )
            })
            .collect();
        Series {
            bucket: Bucket::Week,
            lines: vec![Line {
                region: data::REGIONS[0].slug.to_owned(),
                points,
            }],
        }
    }

    #[test]
    fn the_svg_labels_month_starts_in_the_visitors_format() {
        let range = (day("2025-01-01"), day("2025-06-30"));
        let svg = render(
            &half_year(),
            Metric::Revenue,
            ChartStyle::Lines,
            range,
            false,
            Numbers::for_locale(Some("de")),
        );
        let texts = texts(&svg);
        for month in ["Jan 2025", "Feb", "Mar", "Apr", "May", "Jun"] {
            assert!(texts.contains(&month), "no {month:?} label in {texts:?}");
        }
        // No day-of-month label such as "Mar 7".
        let mid_month = texts.iter().find(|text| {
            text.split_once(' ')
                .is_some_and(|(_, rest)| rest.parse::<u32>().is_ok_and(|n| n <= 31))
        });
        assert_eq!(mid_month, None, "{texts:?}");
        // German decimals on the y axis, and the line is still one 2px polyline.
        assert!(
            texts
                .iter()
                .any(|text| text.starts_with('$') && text.contains(",")),
            "{texts:?}"
        );
        assert!(!texts.iter().any(|text| text.contains('.')), "{texts:?}");
        assert_eq!(svg.matches(r#"stroke-width="2""#).count(), 1);
    }
}
