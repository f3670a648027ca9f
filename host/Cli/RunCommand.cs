using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Daemon;
using VirtualStack.Host.Plugins;

namespace VirtualStack.Host.Cli;

/// <summary><c>vs run [--config FILE] [--Key:Path=value ...]</c>: the edge daemon.</summary>
internal static class RunCommand
{
    public const string Help = """
        Usage: vs run [--config FILE] [--Section:Key=value ...]

        Runs the VirtualStack daemon: creates the VNIC (TUN), routes the captured prefixes into it, loads the
        plugins and carries every flow on the stack its rule chooses, until SIGINT or SIGTERM. Everything it set
        up is removed on exit. Needs root (CAP_NET_ADMIN, CAP_NET_RAW).

        Options:
          --config FILE          JSON configuration (default: the embedded example, see README)
          --Section:Key=value    override one configuration key, e.g. --Tun:Name=vs1 (VirtualStack: is implied)
        Environment: VS__Section__Key=value overrides too (e.g. VS__Tun__Name=vs1).
        Prints "vs: ready ..." on standard output once it carries traffic.
        Exit status: 0 after a signal, 1 on a run-time failure, 2 on bad usage or configuration.
        """;

    public static async Task<int> RunAsync(ParsedArguments args)
    {
        string? configFile = args.Option("config");
        args.RejectUnknown();
        IConfiguration configuration = ConfigurationLoader.Load(configFile, args.Overrides);
        VsSettings settings = SettingsReader.Read(configuration);
        using PluginCatalog catalog = PluginCatalog.Load(PluginCatalog.ResolvePath(settings.PluginsPath));
        foreach (PluginFailure failure in catalog.Failures)
        {
            ConsoleLog.Write($"plugin {failure.Name} not loaded: {failure.Reason}");
        }

        VsDaemon daemon = VsDaemon.Prepare(settings, catalog, ConsoleLog.Write);
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            ConsoleLog.Write("vs run needs root (CAP_NET_ADMIN for the TUN device and routes, CAP_NET_RAW for the raw stack)");
            return 1;
        }

        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        int exitCode = 0;
        try
        {
            await daemon.RunAsync(stop.Token);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or System.Net.Sockets.SocketException or ArgumentException)
        {
            ConsoleLog.Write($"error: {e.Message}");
            exitCode = 1;
        }
        finally
        {
            await daemon.DisposeAsync();
            ConsoleLog.Write("stopped; VNIC, routes and rules removed");
        }

        return exitCode;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
