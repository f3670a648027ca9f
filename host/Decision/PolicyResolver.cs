using VirtualStack.Contracts.Policies;
using VirtualStack.Host.Plugins;

namespace VirtualStack.Host.Decision;

/// <summary>
/// Finds a policy plugin by name and checks and creates a rule's policy with it: at start from the configuration
/// (<c>Rules[i].Policy</c>, <c>PolicyOptions</c>) and at run time for <c>vs policy</c>. Problems come back as text
/// naming the option; nothing is created until everything checked out.
/// </summary>
internal static class PolicyResolver
{
    /// <summary>Checks a policy and its options for a rule; null when valid, else the problem.</summary>
    public static string? Check(PluginCatalog catalog, string rule, IReadOnlyList<string> stacks, string policy,
        IReadOnlyDictionary<string, string> options, out IPolicyFactory? factory, out PolicyOptions policyOptions)
    {
        policyOptions = new PolicyOptions(rule, policy, stacks, options);
        factory = catalog.FindPolicy(policy);
        if (factory is null)
        {
            return $"no plugin in {catalog.Directory} provides a policy '{policy}' (available: {catalog.DescribePolicies()})";
        }

        try
        {
            return factory.Validate(policyOptions) is { } problem ? $"{factory.Name}: {problem}" : null;
        }
        catch (Exception e)
        {
            // A plugin's validation must not take the host down; its failure is a refusal.
            return $"{factory.Name}: validation failed: {e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>Checks and creates; returns null and the problem when either fails.</summary>
    public static PolicyBinding? TryCreate(PluginCatalog catalog, string rule, IReadOnlyList<string> stacks, string policy,
        IReadOnlyDictionary<string, string> options, Action<string> log, long epoch, out string? problem)
    {
        problem = Check(catalog, rule, stacks, policy, options, out IPolicyFactory? factory, out PolicyOptions policyOptions);
        if (problem is not null)
        {
            return null;
        }

        try
        {
            IDecisionPolicy instance = factory!.Create(policyOptions, new PolicyHost(rule, factory.Name, log));
            var frozen = new Dictionary<string, string>(options, StringComparer.OrdinalIgnoreCase);
            return new PolicyBinding(factory.Name, frozen, instance, -1, epoch, DateTimeOffset.UtcNow);
        }
        catch (Exception e)
        {
            problem = $"{factory!.Name}: could not be created: {e.GetType().Name}: {e.Message}";
            return null;
        }
    }
}
