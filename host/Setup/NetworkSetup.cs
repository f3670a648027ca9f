using System.Globalization;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Configuration;

namespace VirtualStack.Host.Setup;

/// <summary>
/// Puts the VNIC on the network and takes it off again: addresses, MTU and queue length, the captured prefixes in a
/// routing table of this instance, and a policy rule sending every packet that does not carry this instance's
/// firewall mark through that table. VirtualStack's own sockets carry the mark, so they bypass the VNIC.
/// </summary>
/// <remarks>
/// Undo is recorded as each step succeeds and replayed in reverse on <see cref="Dispose"/>, after an error as well
/// as at exit. Addresses and routes also vanish with the device when its descriptor closes; the policy rules do
/// not, so they are removed explicitly, and stale ones left by a killed instance of the same name are removed
/// before new ones are added.
/// </remarks>
internal sealed class NetworkSetup : IDisposable
{
    private readonly Stack<string[]> _undo = new();
    private readonly Action<string> _log;

    private NetworkSetup(Action<string> log)
    {
        _log = log;
    }

    public static NetworkSetup Apply(TunSettings tun, string device, Action<string> log)
    {
        var setup = new NetworkSetup(log);
        try
        {
            setup.Configure(tun, device);
            return setup;
        }
        catch
        {
            setup.Dispose();
            throw;
        }
    }

    private void Configure(TunSettings tun, string device)
    {
        string table = tun.Table.ToString(CultureInfo.InvariantCulture);
        string mark = "0x" + tun.Mark.ToString("x", CultureInfo.InvariantCulture);
        string priority = tun.RulePriority.ToString(CultureInfo.InvariantCulture);

        CommandRunner.Check("ip", "link", "set", "dev", device,
            "mtu", tun.Mtu.ToString(CultureInfo.InvariantCulture),
            "txqueuelen", tun.TxQueueLength.ToString(CultureInfo.InvariantCulture));
        CommandRunner.Check("ip", "addr", "add", tun.Address.ToString(), "dev", device);
        if (tun.Address6 is { } address6)
        {
            CommandRunner.Check("ip", "-6", "addr", "add", address6.ToString(), "dev", device, "nodad");
        }

        CommandRunner.Check("ip", "link", "set", "dev", device, "up");

        bool v4 = false;
        bool v6 = false;
        foreach (NetPrefix prefix in tun.Capture)
        {
            string family = prefix.Address.IsV4 ? "-4" : "-6";
            v4 |= prefix.Address.IsV4;
            v6 |= !prefix.Address.IsV4;
            if (prefix.Address.IsV4)
            {
                CommandRunner.Check("ip", family, "route", "replace", prefix.ToString(), "dev", device, "table", table, "src", tun.Address.Address.ToString());
            }
            else
            {
                CommandRunner.Check("ip", family, "route", "replace", prefix.ToString(), "dev", device, "table", table);
            }
        }

        foreach ((bool used, string family) in new[] { (v4, "-4"), (v6, "-6") })
        {
            if (!used)
            {
                continue;
            }

            _undo.Push(["ip", family, "route", "flush", "table", table]);
            string[] rule = ["rule", "add", "not", "fwmark", mark, "table", table, "priority", priority];
            RemoveStaleRules(family, mark, table, priority);
            CommandRunner.Check("ip", [family, .. rule]);
            _undo.Push(["ip", family, "rule", "del", "not", "fwmark", mark, "table", table, "priority", priority]);
        }

        _log($"{device}: {tun.Address}{(tun.Address6 is { } a6 ? " " + a6 : string.Empty)} mtu {tun.Mtu}, " +
             $"captures {string.Join(' ', tun.Capture)} (table {table}, own sockets marked {mark})");
        WarnAboutReversePathFilter();
    }

    private void RemoveStaleRules(string family, string mark, string table, string priority)
    {
        for (int i = 0; i < 16; i++)
        {
            (int code, _, _) = CommandRunner.Run("ip", family, "rule", "del", "not", "fwmark", mark, "table", table, "priority", priority);
            if (code != 0)
            {
                return;
            }

            _log($"removed a stale policy rule of a previous instance (table {table})");
        }
    }

    private void WarnAboutReversePathFilter()
    {
        // Raw-stack replies arrive on the egress interface from addresses that route into the VNIC; strict reverse
        // path filtering (1) drops them. Loose (2) or off (0) is needed; we say so rather than change host policy.
        try
        {
            string all = File.ReadAllText("/proc/sys/net/ipv4/conf/all/rp_filter").Trim();
            if (all == "1")
            {
                _log("warning: net.ipv4.conf.all.rp_filter=1 (strict) drops raw-stack replies; set it to 2 (loose)");
            }
        }
        catch (IOException)
        {
        }
    }

    public void Dispose()
    {
        while (_undo.TryPop(out string[]? command))
        {
            (int code, _, string error) = CommandRunner.Run(command[0], command[1..]);
            if (code != 0 && !error.Contains("No such", StringComparison.OrdinalIgnoreCase) && !error.Contains("not exist", StringComparison.OrdinalIgnoreCase))
            {
                _log($"cleanup: '{string.Join(' ', command)}' failed: {error}");
            }
        }
    }
}
