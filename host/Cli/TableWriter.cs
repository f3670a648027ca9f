namespace VirtualStack.Host.Cli;

/// <summary>Writes rows as a left-aligned text table with a header, the way <c>ip</c> and <c>ss</c> users expect.</summary>
internal sealed class TableWriter(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params object?[] cells) =>
        _rows.Add(cells.Select(c => Convert.ToString(c, System.Globalization.CultureInfo.InvariantCulture) ?? "-").ToArray());

    public void WriteTo(TextWriter output)
    {
        int[] widths = headers.Select(h => h.Length).ToArray();
        foreach (string[] row in _rows)
        {
            for (int i = 0; i < row.Length && i < widths.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        output.WriteLine(Format(headers, widths));
        foreach (string[] row in _rows)
        {
            output.WriteLine(Format(row, widths));
        }
    }

    private static string Format(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
}
