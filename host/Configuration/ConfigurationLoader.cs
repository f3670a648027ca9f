using Microsoft.Extensions.Configuration;

namespace VirtualStack.Host.Configuration;

/// <summary>
/// Layers the configuration: the JSON file (<c>--config</c>, else the embedded default), then <c>VS__</c>
/// environment variables, then command-line overrides, later layers winning.
/// </summary>
/// <remarks>
/// Environment variables and overrides may leave out the <c>VirtualStack</c> root: <c>VS__Tun__Name=vs1</c> and
/// <c>--Tun:Name=vs1</c> both set <c>VirtualStack:Tun:Name</c> (the full form works too). Keys are rooted here
/// rather than with the stock providers because those cannot re-root a prefix.
/// </remarks>
internal static class ConfigurationLoader
{
    public const string EnvironmentPrefix = "VS__";

    public static IConfiguration Load(string? configFile, IReadOnlyDictionary<string, string> overrides)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is null)
        {
            builder.AddJsonStream(new MemoryStream(DefaultConfiguration.Json));
        }
        else
        {
            string full = Path.GetFullPath(configFile);
            if (!File.Exists(full))
            {
                throw new ConfigurationException("--config", $"file '{configFile}' does not exist");
            }

            try
            {
                builder.AddJsonFile(full, optional: false, reloadOnChange: false);
                builder.Build();
            }
            catch (Exception e) when (e is FormatException or InvalidDataException or System.Text.Json.JsonException)
            {
                throw new ConfigurationException("--config", $"'{configFile}' is not valid JSON: {e.GetBaseException().Message}");
            }
        }

        var environment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            if (variable.Key is string name && name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                environment[Rooted(name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal))] = variable.Value as string;
            }
        }

        builder.AddInMemoryCollection(environment);
        builder.AddInMemoryCollection(overrides.ToDictionary(p => Rooted(p.Key), p => (string?)p.Value, StringComparer.OrdinalIgnoreCase));
        return builder.Build();
    }

    private static string Rooted(string key) =>
        key.StartsWith(SettingsReader.Root + ":", StringComparison.OrdinalIgnoreCase) ? key : $"{SettingsReader.Root}:{key}";
}
