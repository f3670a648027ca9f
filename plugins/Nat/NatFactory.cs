using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Nat;

/// <summary>
/// The default NAT: a rule's <c>Nat</c> map names, per stack, the far end its flows really go to (design.md §7).
/// </summary>
internal sealed class NatFactory : INatFactory
{
    public string Name => "Nat";

    public string? Validate(IReadOnlyDictionary<string, string> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, string> entry in map)
        {
            if (string.IsNullOrWhiteSpace(entry.Key))
            {
                return $"an entry has no stack name (its far end is '{entry.Value}').";
            }

            if (!seen.TryAdd(entry.Key.Trim(), entry.Key))
            {
                return $"entries '{seen[entry.Key.Trim()]}' and '{entry.Key}' name the same stack (names are compared without case).";
            }

            if (!NatTarget.TryParse(entry.Value, out _, out string? problem))
            {
                return $"entry '{entry.Key}' = '{entry.Value}': {problem}";
            }
        }

        return null;
    }

    public INat Create(IReadOnlyDictionary<string, string> map)
    {
        if (Validate(map) is { } problem)
        {
            throw new ArgumentException(problem, nameof(map));
        }

        var targets = new List<KeyValuePair<string, NatTarget>>(map.Count);
        foreach (KeyValuePair<string, string> entry in map)
        {
            NatTarget.TryParse(entry.Value, out NatTarget target, out _);
            targets.Add(new KeyValuePair<string, NatTarget>(entry.Key.Trim(), target));
        }

        return new NatMap(targets);
    }
}
