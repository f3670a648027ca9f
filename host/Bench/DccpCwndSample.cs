using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace VirtualStack.Host.Bench;

/// <summary>
/// One sample of a DCCP connection's CCID 2 state, from the Dccp stack's StatsLogMs log line (README "The Dccp
/// stack"): <c>t_ms</c> is milliseconds since the bench first sent on the DCCP path.
/// </summary>
internal sealed partial record DccpCwndSample(
    long TimeMs, int Cwnd, int? Ssthresh, int Pipe, double RttMs, long Sent, long Lost, long CongestionEvents, long Timeouts, long QueueFullDrops)
{
    public const string CsvHeader = "t_ms,cwnd,ssthresh,pipe,rtt_ms,data_sent,data_lost,congestion_events,timeouts,queue_full_drops";

    /// <summary>
    /// The samples in VS's log (its standard error) taken from <paramref name="fromUnixMs"/> to <paramref name="toUnixMs"/>,
    /// for the one flow the bench sends on the DCCP path.
    /// </summary>
    public static List<DccpCwndSample> Parse(string log, long fromUnixMs, long toUnixMs)
    {
        var samples = new List<DccpCwndSample>();
        foreach (string line in log.Split('\n'))
        {
            Match m = StatsLine().Match(line);
            if (!m.Success)
            {
                continue;
            }

            long at = Long(m, "unix");
            if (fromUnixMs == 0 || at < fromUnixMs || at > toUnixMs)
            {
                continue;
            }

            samples.Add(new DccpCwndSample(
                at - fromUnixMs,
                (int)Long(m, "cwnd"),
                m.Groups["ssthresh"].Value == "-" ? null : (int)Long(m, "ssthresh"),
                (int)Long(m, "pipe"),
                double.Parse(m.Groups["rtt"].Value, CultureInfo.InvariantCulture),
                Long(m, "sent"),
                Long(m, "lost"),
                Long(m, "events"),
                Long(m, "timeouts"),
                Long(m, "drops")));
        }

        return samples;
    }

    /// <summary>
    /// Back-offs (samples in which the congestion event count rose) and how many of them were followed, later in
    /// the series, by a larger cwnd than at the back-off: CCID 2 recovering rather than staying down.
    /// </summary>
    public static (int Backoffs, int Recovered) Recoveries(IReadOnlyList<DccpCwndSample> series)
    {
        int backoffs = 0;
        int recovered = 0;
        for (int i = 1; i < series.Count; i++)
        {
            if (series[i].CongestionEvents <= series[i - 1].CongestionEvents)
            {
                continue;
            }

            backoffs++;
            for (int j = i + 1; j < series.Count; j++)
            {
                if (series[j].Cwnd > series[i].Cwnd)
                {
                    recovered++;
                    break;
                }
            }
        }

        return (backoffs, recovered);
    }

    public static JsonArray ToJson(IEnumerable<DccpCwndSample> samples)
    {
        var array = new JsonArray();
        foreach (DccpCwndSample s in samples)
        {
            array.Add(new JsonObject
            {
                ["t_ms"] = s.TimeMs,
                ["cwnd"] = s.Cwnd,
                ["ssthresh"] = s.Ssthresh,
                ["pipe"] = s.Pipe,
                ["rtt_ms"] = s.RttMs,
                ["data_sent"] = s.Sent,
                ["data_lost"] = s.Lost,
                ["congestion_events"] = s.CongestionEvents,
                ["timeouts"] = s.Timeouts,
                ["queue_full_drops"] = s.QueueFullDrops,
            });
        }

        return array;
    }

    public static List<DccpCwndSample> FromJson(JsonArray array)
    {
        var samples = new List<DccpCwndSample>(array.Count);
        foreach (JsonNode? n in array)
        {
            samples.Add(new DccpCwndSample(
                n!["t_ms"]!.GetValue<long>(), n["cwnd"]!.GetValue<int>(), n["ssthresh"]?.GetValue<int>(), n["pipe"]!.GetValue<int>(),
                n["rtt_ms"]!.GetValue<double>(), n["data_sent"]!.GetValue<long>(), n["data_lost"]!.GetValue<long>(),
                n["congestion_events"]!.GetValue<long>(), n["timeouts"]!.GetValue<long>(), n["queue_full_drops"]!.GetValue<long>()));
        }

        return samples;
    }

    public string ToCsv() => string.Create(CultureInfo.InvariantCulture,
        $"{TimeMs},{Cwnd},{(Ssthresh is { } t ? t.ToString(CultureInfo.InvariantCulture) : string.Empty)},{Pipe},{RttMs},{Sent},{Lost},{CongestionEvents},{Timeouts},{QueueFullDrops}");

    private static long Long(Match m, string group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    // "stack dccp: t=1.234s unix_ms=1764121234567 10.201.0.2:9001 cwnd=12 ssthresh=- pipe=3 rtt=0.25ms sent=100 lost=0 events=0 queue-full-drops=0 timeouts=0"
    [GeneratedRegex(@"stack dccp: t=\S+ unix_ms=(?<unix>\d+) \S+ cwnd=(?<cwnd>\d+) ssthresh=(?<ssthresh>-|\d+) pipe=(?<pipe>\d+) rtt=(?<rtt>[\d.]+)ms sent=(?<sent>\d+) lost=(?<lost>\d+) events=(?<events>\d+) queue-full-drops=(?<drops>\d+) timeouts=(?<timeouts>\d+)")]
    private static partial Regex StatsLine();
}
