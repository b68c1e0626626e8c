//! How the commands write times and sizes for people: one spelling for `consume`, `demo`
//! and whatever else prints a row per fragment. Machine-readable output is `record`'s.

/// `2.50 MB`, `1.2 kB`, `999 B` (decimal units, as transfer rates are given).
pub fn human_bytes(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.2} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.2} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} kB", n / 1e3),
        n => format!("{n:.0} B"),
    }
}

/// `HH:MM:SS.mmm` (UTC) of a Unix time in milliseconds.
pub fn clock(unix_millis: i64) -> String {
    let ms = unix_millis.rem_euclid(86_400_000);
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_sizes_read_well() {
        assert_eq!(clock(1_511_374_566_235), "18:16:06.235");
        assert_eq!(clock(-1), "23:59:59.999");
        assert_eq!(human_bytes(2_503_485.0), "2.50 MB");
        assert_eq!(human_bytes(1_234.0), "1.2 kB");
        assert_eq!(human_bytes(999.0), "999 B");
    }
}
