using VirtualStack.Host.Cli;
using VirtualStack.Host.Configuration;

namespace VirtualStack.Host;

internal static class Program
{
    private const string Usage = """
        VirtualStack: carries each application flow on the network stack its rule chooses, switchable at run time.

        Usage: vs <command> [options]     (vs <command> --help for details)

        Commands:
          run       run the edge daemon (VNIC, pipeline, stacks)             needs root
          demo      the reference experiment on a private topology          needs root
          plugins   list plugins, versions, what each provides
          status    counters of a running daemon
          flows     flow table of a running daemon
          stacks    per-stack counters of a running daemon
          switch    force a flow or a rule's flows onto a stack
          policy    replace a rule's policy at run time
          measure   hand a measurement to the rules' policies
          migrate   move a flow or a rule's flows to a new far end (the application's view is kept)
          top       live view of a running daemon's traffic, rules and flows
          bench     measurements side by side with the kernel path           needs root
          udp-gen   send UDP datagrams (the benchmark and demo generator)
          udp-count count received UDP datagrams per time bucket (the benchmark and demo server)
          udp-delay relay UDP datagrams with a delay, jitter and loss (netem's delay where the kernel has none)
          dccp      DCCP endpoint on its own: listen (hand datagrams to a UDP server), send   raw IP needs root
          relay     far side of multipath Udp paths: drop tagged duplicates, relay to an unchanged UDP server

        Exit status: 0 success, 1 failure at run time, 2 bad usage or configuration.
        """;

    private static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            Console.Out.Write(Usage);
            Console.Out.WriteLine();
            return args.Length == 0 ? 2 : 0;
        }

        string command = args[0];
        try
        {
            // --json is a switch everywhere except in bench, where it names the output file.
            ParsedArguments parsed = command == "bench"
                ? ParsedArguments.Parse(args[1..])
                : ParsedArguments.Parse(args[1..], "json", "echo", "dedup");
            return command switch
            {
                "run" => parsed.Help ? PrintHelp(RunCommand.Help) : await RunCommand.RunAsync(parsed),
                "plugins" => parsed.Help ? PrintHelp(PluginsCommand.Help) : PluginsCommand.Run(parsed),
                "status" or "flows" or "stacks" or "switch" or "policy" or "measure" or "migrate" =>
                    parsed.Help ? PrintHelp(ClientCommands.Help) : await ClientCommands.RunAsync(command, parsed),
                "top" => parsed.Help ? PrintHelp(Monitor.TopCommand.Help) : await Monitor.TopCommand.RunAsync(parsed),
                "demo" => parsed.Help ? PrintHelp(DemoCommand.Help) : await DemoCommand.RunAsync(parsed),
                "bench" => parsed.Help ? PrintHelp(BenchCommand.Help) : await BenchCommand.RunAsync(parsed),
                "udp-gen" => parsed.Help ? PrintHelp(ToolCommands.GenHelp) : ToolCommands.Generate(parsed),
                "udp-count" => parsed.Help ? PrintHelp(ToolCommands.CountHelp) : ToolCommands.Count(parsed),
                Tools.UdpDelayCommand.Name => parsed.Help ? PrintHelp(Tools.UdpDelayCommand.Help) : Tools.UdpDelayCommand.Run(parsed),
                DccpCommand.Name => await DccpCommand.RunAsync(args[1..]),
                "relay" => parsed.Help ? PrintHelp(RelayCommand.Help) : RelayCommand.Run(parsed),
                "--version" or "version" => PrintHelp(typeof(Program).Assembly.GetName().Version?.ToString() ?? "?"),
                _ => throw new UsageException($"unknown command '{command}' (see vs --help)"),
            };
        }
        catch (UsageException e)
        {
            ConsoleLog.Write(e.Message);
            return 2;
        }
        catch (ConfigurationException e)
        {
            ConsoleLog.Write($"configuration error: {e.Message}");
            return 2;
        }
    }

    private static int PrintHelp(string text)
    {
        Console.Out.WriteLine(text);
        return 0;
    }
}
