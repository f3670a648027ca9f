using System.Text.Json;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// Packet counters of a device as the kernel sees them. For a TUN device "tx" is what the kernel routed into the
/// device (read by VS) and "rx" what VS wrote into it: the proof that traffic really went through VS and not
/// straight over the veth. A joined UDP GSO send crosses a veth as one packet: its bytes count every datagram's
/// payload, its packets only one.
/// </summary>
internal sealed record LinkCounters(long RxPackets, long TxPackets, long RxBytes = 0, long TxBytes = 0)
{
    public static async Task<LinkCounters> ReadAsync(string ns, string device)
    {
        var r = await Cmd.RunAsync("ip", ["-n", ns, "-s", "-j", "link", "show", "dev", device], TimeSpan.FromSeconds(20));
        if (!r.Ok)
        {
            throw new InvalidOperationException($"no device {device} in {ns}: {r}");
        }

        using var doc = JsonDocument.Parse(r.StdOut);
        var stats = doc.RootElement[0].GetProperty("stats64");
        return new LinkCounters(
            stats.GetProperty("rx").GetProperty("packets").GetInt64(),
            stats.GetProperty("tx").GetProperty("packets").GetInt64(),
            stats.GetProperty("rx").GetProperty("bytes").GetInt64(),
            stats.GetProperty("tx").GetProperty("bytes").GetInt64());
    }

    public static async Task<bool> ExistsAsync(string ns, string device) =>
        (await Cmd.RunAsync("ip", ["-n", ns, "link", "show", "dev", device], TimeSpan.FromSeconds(20))).Ok;
}
