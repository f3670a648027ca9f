using System.Globalization;

namespace VirtualStack.Host.Setup;

/// <summary>
/// Random loss where the kernel has no sch_netem (as on these machines): an nftables table in a namespace that drops
/// a share of what arrives on one device, before anything else sees it (prerouting, priority -300), in steps of
/// 0.01 %. Benchmarks and tests shape paths with it; deleting the table or the namespace removes it.
/// </summary>
internal static class NftablesLoss
{
    public static void Add(string ns, string table, string device, double percent)
    {
        long per10k = (long)Math.Round(percent * 100);
        CommandRunner.Check("ip", "netns", "exec", ns, "nft", "add", "table", "inet", table);
        CommandRunner.Check("ip", "netns", "exec", ns, "nft", "add", "chain", "inet", table, "in", "{ type filter hook prerouting priority -300; }");
        CommandRunner.Check("ip", "netns", "exec", ns, "nft", "add", "rule", "inet", table, "in", "iifname", device,
            "numgen", "random", "mod", "10000", "<", per10k.ToString(CultureInfo.InvariantCulture), "counter", "drop");
    }

    public static void Remove(string ns, string table) => CommandRunner.Run("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", table);
}
