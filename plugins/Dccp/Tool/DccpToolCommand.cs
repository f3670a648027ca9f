using VirtualStack.Contracts.Plugins;

namespace VirtualStack.Plugins.Dccp.Tool;

/// <summary><c>vs dccp listen|send</c>: the plugin's DCCP endpoint on its own, registered as a <c>vs</c> subcommand.</summary>
internal sealed class DccpToolCommand : IPluginCommand
{
    public string Name => "dccp";

    public string Summary => "DCCP endpoint on its own: listen (hand datagrams to a UDP server), send";

    public string Help => """
        Usage: vs dccp listen --port P [--service N] [--deliver HOST:PORT | --echo] [--transport raw|udp] [options]
               vs dccp send --to HOST:PORT [--service N] [--count N] [--size B] [--ccid 2] [--transport raw|udp] [options]

        listen  accepts DCCP connections (RFC 4340, CCID 2) on DCCP port P and hands each datagram as UDP to an
                unchanged server at --deliver, through a UDP socket of the connection's own, so the server's replies
                go back over the same connection (--echo sends each datagram back instead; neither: count only).
                Prints one line per accepted and per closed connection and the totals on SIGINT/SIGTERM.
                  --service N      accept only this service code (default: any)
                  --address A      listen on this local address only (default: every address of the namespace)
                  --udp-port U     with --transport udp: the UDP port of the encapsulation (default: P)
                  --stats-ms MS    print every connection's statistics (cwnd, RTT, losses) every MS milliseconds
        send    connects to the DCCP port at HOST:PORT, sends --count datagrams (default 10) of --size bytes
                (default 1000; the first 8 are a sequence number) as fast as CCID 2 allows or at --rate PPS, and
                prints what was sent, acknowledged and lost, the replies received and the connection's statistics.
                  --service N      service code of the connection (default 0)
                  --udp-port U     with --transport udp: the listener's UDP port (default: the DCCP port)
                  --stats-ms MS    print cwnd, ssthresh, pipe, RTT and losses every MS milliseconds while sending
                  --wait-ms MS     wait this long at the end for acknowledgements and replies (default 1000)
                  --address A      local address to send from (default: the one the route to HOST uses)

        Both:     --transport raw|udp   raw IP protocol 33 (default; needs root or CAP_NET_RAW), or DCCP-UDP
                                        (RFC 6773) for paths that pass only UDP
                  --mtu B               path MTU (default 1500); a datagram larger than it allows is refused
                  --mark M              SO_MARK of the sockets (default none)
        Service codes: decimal, 0x hex, or up to four ASCII characters (e.g. RTPV).
        A raw DCCP socket sees every DCCP packet of its address: run one DCCP endpoint per address (a second one
        answers the first one's packets with Reset).
        Exit status: 0 success, 1 failure at run time (e.g. connection refused), 2 bad usage.
        """;

    public async Task<int> RunAsync(IReadOnlyList<string> arguments, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (arguments.Count == 0 || arguments[0] is "--help" or "-h" or "help" || arguments.Contains("--help"))
        {
            await output.WriteLineAsync(Help);
            return arguments.Count == 0 ? 2 : 0;
        }

        try
        {
            ToolArguments args = ToolArguments.Parse(arguments.Skip(1), "echo");
            return arguments[0] switch
            {
                "listen" => await ListenTool.RunAsync(args, output, cancellationToken),
                "send" => await SendTool.RunAsync(args, output, cancellationToken),
                _ => throw new ToolUsageException($"unknown subcommand '{arguments[0]}': vs dccp listen or vs dccp send (see vs dccp --help)"),
            };
        }
        catch (ToolUsageException e)
        {
            await error.WriteLineAsync($"vs: dccp: {e.Message}");
            return 2;
        }
        catch (DccpToolException e)
        {
            await error.WriteLineAsync($"vs: dccp: {e.Message}");
            return 1;
        }
    }
}
