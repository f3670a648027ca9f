using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Cli;

namespace VirtualStack.Host.Monitor;

/// <summary>
/// <c>vs top</c>: a live view of a running daemon over its management socket (or the remote interface), refreshed
/// every second: traffic and drop rates, rules and their policies, and the busiest flows with their stacks and
/// switches. q or Ctrl-C quits and gives the terminal back as it was.
/// </summary>
internal static class TopCommand
{
    public const string Help = """
        Usage: vs top [--socket PATH | --config FILE | --remote HOST:PORT --key-file FILE] [--interval SECONDS] [--count N]

        A live view of a running daemon, refreshed every --interval seconds (default 1): packets and bytes per second
        from the applications and carried, drops, flows, the rules with their policies and policy errors, and the
        busiest flows with their rates, current stack, switches and switch delays. q or Ctrl-C quits.
        When standard output is not a terminal it prints one frame per interval instead of redrawing, and
        --count N stops after N frames (for scripts). Exit status: 0, or 1 when no daemon answers.
        """;

    public static async Task<int> RunAsync(ParsedArguments args)
    {
        string? remoteText = args.Option("remote");
        (NetEndpoint Server, byte[] Key)? remote = remoteText is null ? null : ClientCommands.RemoteTarget(remoteText, args);
        string socket = remote is null ? ClientCommands.ResolveSocket(args) : "";
        TimeSpan interval = Interval(args.Option("interval"));
        int count = args.Int("count", 0, 0, int.MaxValue);
        args.RejectUnknown();

        using var quit = new CancellationTokenSource();
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            e.Cancel = true;
            quit.Cancel();
        };
        Console.CancelKeyPress += onCtrlC;
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            quit.Cancel();
        });
        _ = WatchKeys(quit);

        bool redraw = !Console.IsOutputRedirected;
        TextWriter output = Console.Out;
        if (redraw)
        {
            // The alternate screen, without a cursor: the shell's screen comes back untouched on exit.
            output.Write("\u001b[?1049h\u001b[?25l");
        }

        var screen = new TopScreen();
        try
        {
            for (int frame = 0; count == 0 || frame < count; frame++)
            {
                JsonObject status;
                JsonObject flows;
                try
                {
                    status = await ClientCommands.SendAsync(remote, socket, new JsonObject { ["command"] = "status" });
                    flows = await ClientCommands.SendAsync(remote, socket, new JsonObject { ["command"] = "flows" });
                }
                catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
                {
                    Restore(redraw, output);
                    redraw = false;
                    ConsoleLog.Write($"cannot reach a daemon at {(remote is { } r ? r.Server.ToString() : socket)}: {e.Message}");
                    return 1;
                }

                int rows = redraw ? Math.Max(5, SafeHeight() - 12) : 20;
                string text = screen.Render(status, flows, DateTimeOffset.UtcNow, rows);
                output.Write(redraw ? "\u001b[H\u001b[2J" + text : text + Environment.NewLine);
                output.Flush();
                if (count != 0 && frame + 1 >= count)
                {
                    break;
                }

                try
                {
                    await Task.Delay(interval, quit.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            Console.CancelKeyPress -= onCtrlC;
            Restore(redraw, output);
        }

        return 0;
    }

    private static void Restore(bool redraw, TextWriter output)
    {
        if (redraw)
        {
            output.Write("\u001b[?25h\u001b[?1049l");
            output.Flush();
        }
    }

    private static TimeSpan Interval(string? text)
    {
        if (text is null)
        {
            return TimeSpan.FromSeconds(1);
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds is >= 0.1 and <= 3600
            ? TimeSpan.FromSeconds(seconds)
            : throw new UsageException($"--interval: '{text}' is not a number of seconds from 0.1 to 3600");
    }

    private static int SafeHeight()
    {
        try
        {
            return Console.WindowHeight;
        }
        catch (IOException)
        {
            return 24;
        }
    }

    /// <summary>q quits: from the keyboard when standard input is a terminal, else from whatever is piped in.</summary>
    private static Task WatchKeys(CancellationTokenSource quit)
    {
        if (Console.IsInputRedirected)
        {
            return Task.Run(() =>
            {
                int c;
                while ((c = Console.In.Read()) >= 0)
                {
                    if (c is 'q' or 'Q')
                    {
                        quit.Cancel();
                        return;
                    }
                }
            });
        }

        return Task.Run(async () =>
        {
            while (!quit.IsCancellationRequested)
            {
                while (Console.KeyAvailable)
                {
                    if (Console.ReadKey(intercept: true).Key == ConsoleKey.Q)
                    {
                        quit.Cancel();
                        return;
                    }
                }

                await Task.Delay(50);
            }
        });
    }
}
