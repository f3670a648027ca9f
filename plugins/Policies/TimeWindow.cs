using System.Globalization;

namespace VirtualStack.Plugins.Policies;

/// <summary>A daily window of local time, <c>HH:mm-HH:mm</c> (start included, end excluded; wraps past midnight).</summary>
internal readonly record struct TimeWindow(TimeOnly Start, TimeOnly End)
{
    public bool Contains(TimeOnly time) =>
        Start <= End ? time >= Start && time < End : time >= Start || time < End;

    public static TimeWindow Parse(string key, string text)
    {
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0 &&
            TimeOnly.TryParse(text[..dash].Trim(), CultureInfo.InvariantCulture, DateTimeStyles.None, out TimeOnly start) &&
            TimeOnly.TryParse(text[(dash + 1)..].Trim(), CultureInfo.InvariantCulture, DateTimeStyles.None, out TimeOnly end) &&
            start != end)
        {
            return new TimeWindow(start, end);
        }

        throw new FormatException($"{key}: '{text}' is not a daily window of local time like 08:00-18:00 (22:00-06:00 wraps past midnight)");
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Start:HH\\:mm}-{End:HH\\:mm}");
}
