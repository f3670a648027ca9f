using System.Globalization;
using System.Net;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Multipath;
using VirtualStack.Host.Tools;

namespace VirtualStack.Host.Cli;

/// <summary>
/// <c>vs dccp listen ... --deliver HOST:PORT --dedup [--window N]</c>: the DCCP listener of the Dccp plugin with a
/// <see cref="TagRelay"/> in the same process between it and the server. The listener hands every connection's
/// datagrams (still tagged) to the relay on a loopback port instead of to the server; the relay ties the connections
/// of one flow together by the tag's flow id (each path of a multipath rule is a DCCP connection of its own), hands
/// the server each datagram once, and sends each answer, tagged, back through every connection the flow arrived on
/// lately. The plugin knows nothing of tags: the host wraps its command, as it loads it (plugins reference only the
/// contracts, so the window lives here, once).
/// </summary>
internal static class DccpDedup
{
    public const string Help = """

        Added by the host:
          vs dccp listen ... --deliver HOST:PORT --dedup [--window N]
                the datagrams carry VS's sequence tag (multipath rule option SequenceTag, docs/redundant-tag.md): the
                connections of one flow (one per path) are tied together by the tag's flow id, each datagram goes to
                the server once, untagged (copies from other paths and probes are dropped and counted), and each of
                the server's replies goes back tagged over every connection the flow arrived on lately. --window N:
                sequences remembered per flow, a power of two from 64 to 16777216 (default 4096).
        """;

    /// <summary>True when <paramref name="arguments"/> (after <c>vs dccp</c>) ask for listen with --dedup.</summary>
    public static bool Wanted(IReadOnlyList<string> arguments) =>
        arguments.Count > 0 && arguments[0] == "listen" && arguments.Contains("--dedup");

    /// <summary>
    /// Takes --dedup, --window and --deliver out of <paramref name="arguments"/>; returns the rest, or null after printing
    /// what is wrong (exit status 2).
    /// </summary>
    public static List<string>? Split(IReadOnlyList<string> arguments, out NetEndpoint deliver, out int window)
    {
        deliver = default;
        window = DuplicateWindow.DefaultSize;
        string? deliverText = null;
        string? windowText = null;
        var rest = new List<string>(arguments.Count);
        for (int i = 0; i < arguments.Count; i++)
        {
            string arg = arguments[i];
            if (arg == "--dedup")
            {
                continue;
            }

            if (Take(arguments, ref i, "--deliver", out string? value) || Take(arguments, ref i, "--window", out value))
            {
                if (value is null)
                {
                    return Fail($"{arg.Split('=')[0]} needs a value");
                }

                if (arg.StartsWith("--deliver", StringComparison.Ordinal))
                {
                    deliverText = value;
                }
                else
                {
                    windowText = value;
                }

                continue;
            }

            rest.Add(arg);
        }

        if (deliverText is null)
        {
            return Fail("--dedup needs --deliver HOST:PORT (the unchanged UDP server)");
        }

        if (!NetEndpoint.TryParse(deliverText, out deliver) || deliver.Port == 0)
        {
            return Fail($"--deliver: '{deliverText}' is not HOST:PORT (an IP address and a port)");
        }

        if (windowText is not null &&
            (!int.TryParse(windowText, NumberStyles.None, CultureInfo.InvariantCulture, out window) || window < 64 || window > 1 << 24 || (window & (window - 1)) != 0))
        {
            return Fail($"--window: '{windowText}' is not a power of two from 64 to 16777216");
        }

        return rest;
    }

    /// <summary>Runs the relay on its own thread, <paramref name="listen"/> with --deliver pointed at it, then prints the relay's totals.</summary>
    public static async Task<int> RunAsync(List<string> listen, NetEndpoint deliver, int window, Func<IReadOnlyList<string>, Task<int>> run)
    {
        var relay = new TagRelay
        {
            Listen = [new NetEndpoint(NetAddress.Parse(deliver.Address.IsV4 ? "127.0.0.1" : "::1"), 0)],
            Deliver = deliver,
            Dedup = true,
            Window = window,
            Log = line => Console.Out.WriteLine($"dedup: {line}"),
        };
        using var stop = new CancellationTokenSource();
        var ready = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                relay.Run(stop.Token, () => ready.SetResult(relay.Bound[0]));
            }
            catch (Exception e)
            {
                ready.TrySetException(e);
            }
        })
        { IsBackground = true, Name = "dccp-dedup" };
        thread.Start();
        IPEndPoint local;
        try
        {
            local = await ready.Task;
        }
        catch (System.Net.Sockets.SocketException e)
        {
            ConsoleLog.Write($"dccp: --dedup: the relay could not bind a loopback port: {e.Message}");
            return 1;
        }

        Console.Out.WriteLine($"dedup: datagrams go through the relay on udp {local} to {deliver} (window {window})");
        int code;
        try
        {
            code = await run([.. listen, "--deliver", local.ToString()]);
        }
        finally
        {
            await stop.CancelAsync();
            thread.Join();
        }

        Console.Out.WriteLine($"dedup: {relay.Totals}");
        return code;
    }

    private static bool Take(IReadOnlyList<string> arguments, ref int i, string name, out string? value)
    {
        string arg = arguments[i];
        if (arg == name)
        {
            value = i + 1 < arguments.Count ? arguments[++i] : null;
            return true;
        }

        if (arg.StartsWith(name + "=", StringComparison.Ordinal))
        {
            value = arg[(name.Length + 1)..];
            return true;
        }

        value = null;
        return false;
    }

    private static List<string>? Fail(string message)
    {
        ConsoleLog.Write($"dccp: {message}");
        return null;
    }
}
