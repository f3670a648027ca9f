using System.Globalization;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Plugins;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.TestPlugins.Faulty;

/// <summary>
/// A third-party policy plugin built against contracts alone, that misbehaves on purpose: policy "Faulty" puts flows
/// on <c>Stack</c> and, from <c>ThrowAfter</c> into each flow, throws from Choose on every packet. With
/// <c>Fail=Validate</c> or <c>Fail=Create</c> it throws there instead (the host must refuse, not crash).
/// </summary>
public sealed class FaultyPluginModule : IPluginModule
{
    public string Name => "Faulty";

    public int AbiVersion => ContractInfo.AbiVersion;

    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddPolicy(new FaultyPolicyFactory());
    }
}

public sealed class FaultyPolicyFactory : IPolicyFactory
{
    public string Name => "Faulty";

    public string Description => "chooses PolicyOptions.Stack, then throws on every packet from ThrowAfter into each flow (test plugin)";

    public string? Validate(PolicyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Get("Fail") == "Validate")
        {
            throw new InvalidOperationException("Faulty policy: deliberate failure in Validate");
        }

        return options.StackIndex(options.Get("Stack") ?? options.Stacks[0]) < 0 ? $"Stack: '{options.Get("Stack")}' is not one of the rule's stacks" : null;
    }

    public IDecisionPolicy Create(PolicyOptions options, IPolicyHost host)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Get("Fail") == "Create")
        {
            throw new InvalidOperationException("Faulty policy: deliberate failure in Create");
        }

        TimeSpan after = TimeSpan.Parse(options.Get("ThrowAfter") ?? "00:00:00", CultureInfo.InvariantCulture);
        return new FaultyPolicy(options.StackIndex(options.Get("Stack") ?? options.Stacks[0]), (long)after.TotalMilliseconds);
    }
}

internal sealed class FaultyPolicy(int stack, long throwAfterMs) : IDecisionPolicy
{
    public string? Status => $"stack {stack}, throws after {throwAfterMs} ms";

    public int Choose(in PacketInfo packet, in FlowContext flow) =>
        flow.Now - flow.CreatedAt >= throwAfterMs
            ? throw new InvalidOperationException("Faulty policy: deliberate failure in Choose")
            : stack;

    public void Observe(in Measurement measurement)
    {
    }
}
