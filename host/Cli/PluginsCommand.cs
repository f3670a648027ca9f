using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Plugins;

namespace VirtualStack.Host.Cli;

/// <summary><c>vs plugins</c>: what is in the plugins directory, what each provides, and what failed to load.</summary>
internal static class PluginsCommand
{
    public const string Help = """
        Usage: vs plugins [--config FILE] [--path DIR] [--json]

        Loads every plugin from the plugins directory (--path, else Plugins:Path of the configuration, relative to
        the vs executable) and lists each with its version and what it provides; plugins that fail to load are
        listed with the reason. Exit status 1 when any plugin failed to load.
        """;

    public static int Run(ParsedArguments args)
    {
        string? path = args.Option("path");
        string? configFile = args.Option("config");
        bool json = args.Flag("json");
        args.RejectUnknown();
        if (path is null)
        {
            IConfiguration configuration = ConfigurationLoader.Load(configFile, args.Overrides);
            path = configuration[$"{SettingsReader.Root}:Plugins:Path"] ?? "plugins";
        }

        using PluginCatalog catalog = PluginCatalog.Load(PluginCatalog.ResolvePath(path));
        if (json)
        {
            var result = new JsonObject
            {
                ["directory"] = catalog.Directory,
                ["loaded"] = new JsonArray(catalog.Plugins.Select(p => (JsonNode?)new JsonObject
                {
                    ["name"] = p.Name,
                    ["version"] = p.Version,
                    ["folder"] = p.Folder,
                    ["provides"] = new JsonArray(p.Provides.Select(x => (JsonNode?)x).ToArray()),
                }).ToArray()),
                ["failed"] = new JsonArray(catalog.Failures.Select(f => (JsonNode?)new JsonObject
                {
                    ["name"] = f.Name,
                    ["folder"] = f.Folder,
                    ["reason"] = f.Reason,
                }).ToArray()),
            };
            Console.Out.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
        else
        {
            Console.Out.WriteLine($"plugins in {catalog.Directory}");
            var table = new TableWriter("PLUGIN", "VERSION", "PROVIDES");
            foreach (LoadedPlugin plugin in catalog.Plugins)
            {
                table.Add(plugin.Name, plugin.Version, plugin.Provides.Count == 0 ? "(nothing yet)" : string.Join("; ", plugin.Provides));
            }

            table.WriteTo(Console.Out);
            foreach (PluginFailure failure in catalog.Failures)
            {
                Console.Out.WriteLine($"FAILED {failure.Name}: {failure.Reason}");
            }
        }

        return catalog.Failures.Count == 0 ? 0 : 1;
    }
}
