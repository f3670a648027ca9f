using System.Text.Json;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// Reads the drop counters out of <c>vs status --json</c>: the first object named <c>drops</c> (any case, at any
/// depth, so <c>{"drops":{..}}</c> and <c>{"ok":true,"result":{"pipeline":{"drops":{..}}}}</c> both do), whose
/// properties are DropReason names with integer counts, in any spelling: "BadLength", "badLength" and
/// "bad_length" are the same counter.
/// </summary>
internal static class StatusJson
{
    public static IReadOnlyDictionary<string, long> Drops(JsonDocument status) =>
        FindDrops(status.RootElement) is { } drops
            ? drops.EnumerateObject()
                .Where(p => p.Value.ValueKind == JsonValueKind.Number)
                .ToDictionary(p => Key(p.Name), p => p.Value.GetInt64(), StringComparer.Ordinal)
            : throw new InvalidOperationException($"vs status --json has no 'drops' object: {status.RootElement}");

    public static long Drop(IReadOnlyDictionary<string, long> drops, string reason) => drops.GetValueOrDefault(Key(reason));

    private static string Key(string name) => name.Replace("_", "", StringComparison.Ordinal).ToUpperInvariant();

    private static JsonElement? FindDrops(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name.Equals("drops", StringComparison.OrdinalIgnoreCase) && property.Value.ValueKind == JsonValueKind.Object)
                {
                    return property.Value;
                }
            }

            foreach (var property in element.EnumerateObject())
            {
                if (FindDrops(property.Value) is { } found)
                {
                    return found;
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                if (FindDrops(item) is { } found)
                {
                    return found;
                }
            }
        }

        return null;
    }
}
