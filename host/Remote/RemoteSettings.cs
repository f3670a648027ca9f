using System.Globalization;
using Microsoft.Extensions.Configuration;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Configuration;

namespace VirtualStack.Host.Remote;

/// <summary>
/// <c>Management.Remote</c>: where the remote management interface listens, the key its messages are authenticated
/// with, and how far a message's timestamp may be from this host's clock.
/// </summary>
internal sealed record RemoteSettings(NetEndpoint Listen, byte[] Key, TimeSpan MaxSkew)
{
    /// <summary>128 bits: below that a key can be searched for.</summary>
    public const int MinKeyBytes = 16;

    private static readonly string[] Keys = ["Listen", "Key", "KeyFile", "MaxSkew"];

    /// <summary>Reads the section; null when it is absent (no remote interface). Errors name the key.</summary>
    public static RemoteSettings? Read(IConfigurationSection section)
    {
        if (!section.Exists())
        {
            return null;
        }

        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!Keys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new ConfigurationException(child.Path, $"unknown key (known here: {string.Join(", ", Keys)})");
            }
        }

        string listenKey = $"{section.Path}:Listen";
        if (!NetEndpoint.TryParse(section["Listen"], out NetEndpoint listen) || listen.Port == 0)
        {
            throw new ConfigurationException(listenKey, $"'{section["Listen"]}' is not an address and port like 10.201.0.1:7700 or [fd00:201::1]:7700");
        }

        string? text = section["Key"];
        string? file = section["KeyFile"];
        if ((text is null) == (file is null))
        {
            throw new ConfigurationException($"{section.Path}:Key", "give exactly one of Key (hex or base64, at least 16 bytes) and KeyFile (a file holding it)");
        }

        string keyPath = text is null ? $"{section.Path}:KeyFile" : $"{section.Path}:Key";
        if (file is not null)
        {
            try
            {
                text = File.ReadAllText(file).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigurationException(keyPath, $"cannot read '{file}': {e.Message}");
            }
        }

        byte[] key = ParseKey(text!) ?? throw new ConfigurationException(keyPath,
            "not a key: write it as hex (64 hex digits for 32 bytes) or base64, optionally prefixed 'hex:' or 'base64:'");
        if (key.Length < MinKeyBytes)
        {
            throw new ConfigurationException(keyPath, string.Create(CultureInfo.InvariantCulture, $"{key.Length} bytes is too short: at least {MinKeyBytes} (32 recommended)"));
        }

        TimeSpan skew = TimeSpan.FromSeconds(30);
        if (section["MaxSkew"] is { } skewText &&
            (!TimeSpan.TryParse(skewText, CultureInfo.InvariantCulture, out skew) || skew <= TimeSpan.Zero || skew > TimeSpan.FromHours(1)))
        {
            throw new ConfigurationException($"{section.Path}:MaxSkew", $"'{skewText}' is not a time span from 00:00:00.001 to 01:00:00");
        }

        return new RemoteSettings(listen, key, skew);
    }

    /// <summary>
    /// A key as text: <c>hex:...</c>, <c>base64:...</c>, or without a prefix hex when it is only hex digits (even
    /// count), else base64. Null when it is neither.
    /// </summary>
    public static byte[]? ParseKey(string text)
    {
        text = text.Trim();
        try
        {
            if (text.StartsWith("hex:", StringComparison.OrdinalIgnoreCase))
            {
                return Convert.FromHexString(text[4..]);
            }

            if (text.StartsWith("base64:", StringComparison.OrdinalIgnoreCase))
            {
                return Convert.FromBase64String(text[7..]);
            }

            return text.Length % 2 == 0 && text.All(char.IsAsciiHexDigit) ? Convert.FromHexString(text) : Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
