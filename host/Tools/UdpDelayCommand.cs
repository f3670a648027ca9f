using System.Globalization;
using System.Runtime.InteropServices;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Cli;

namespace VirtualStack.Host.Tools;

/// <summary><c>vs udp-delay</c>: runs a <see cref="UdpDelayRelay"/> until SIGINT/SIGTERM.</summary>
internal static class UdpDelayCommand
{
    public const string Name = "udp-delay";

    public const string Help = """
        Usage: vs udp-delay --listen ADDRESS:PORT --to HOST:PORT [--delay MS] [--jitter MS] [--loss PERCENT]

        A delay element for kernels without tc netem: receives UDP datagrams on --listen, holds each for --delay
        milliseconds (default 0; ± --jitter, uniform, never reordering) and sends it on to --to from a socket of its
        own per client; the replies go back to the client the same way. Each datagram, either way, is dropped with
        probability --loss percent. Point a path's far end at it: the path's round trip grows by 2 x delay.
        While it runs, lines on standard input change the settings: "delay 40", "jitter 2", "loss 5".
        Prints "relaying ..." once bound, each change, and what it relayed at the end.
        """;

    public static int Run(ParsedArguments args)
    {
        NetEndpoint listen = Endpoint(args, "listen");
        NetEndpoint target = Endpoint(args, "to");
        double delay = Number(args, "delay", 60_000);
        double jitter = Number(args, "jitter", 60_000);
        double loss = Number(args, "loss", 100);
        args.RejectUnknown();

        using var relay = new UdpDelayRelay(listen, target);
        relay.Set(delay, jitter, loss);
        try
        {
            relay.Start();
        }
        catch (System.Net.Sockets.SocketException e)
        {
            ConsoleLog.Write($"udp-delay: cannot listen on {listen}: {e.Message}");
            return 1;
        }

        Console.Out.WriteLine($"relaying {listen} -> {target}: {relay.Describe()}");
        Console.Out.Flush();

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        var control = new Thread(() => Control(relay)) { IsBackground = true, Name = "udp-delay control" };
        control.Start();
        stop.Token.WaitHandle.WaitOne();
        Console.Out.WriteLine($"relayed {relay.Forwarded} datagrams to {target} and {relay.Returned} back; dropped {relay.Dropped}");
        return 0;
    }

    // Standard input's end (a relay started in the background) leaves the settings as they are.
    private static void Control(UdpDelayRelay relay)
    {
        while (Console.In.ReadLine() is { } line)
        {
            if (line.Trim().Length == 0)
            {
                continue;
            }

            try
            {
                Console.Out.WriteLine($"set: {relay.Apply(line)}");
            }
            catch (FormatException e)
            {
                ConsoleLog.Write(e.Message);
            }

            Console.Out.Flush();
        }
    }

    private static NetEndpoint Endpoint(ParsedArguments args, string name)
    {
        string text = args.Option(name) ?? throw new UsageException($"--{name} ADDRESS:PORT is required");
        return NetEndpoint.TryParse(text, out NetEndpoint endpoint)
            ? endpoint
            : throw new UsageException($"--{name}: '{text}' is not ADDRESS:PORT (an IP address and a port)");
    }

    private static double Number(ParsedArguments args, string name, double max)
    {
        string? text = args.Option(name);
        if (text is null)
        {
            return 0;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0 && value <= max
            ? value
            : throw new UsageException($"--{name}: '{text}' is not a number from 0 to {max}");
    }
}
