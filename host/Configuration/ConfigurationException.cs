namespace VirtualStack.Host.Configuration;

/// <summary>A configuration value is missing or wrong. The message names the key; the process exits with status 2.</summary>
internal sealed class ConfigurationException(string key, string problem) : Exception($"{key}: {problem}")
{
    public string Key { get; } = key;

    public string Problem { get; } = problem;
}
