using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Multipath;
using VirtualStack.Host.Rules;

namespace VirtualStack.Host.Management;

/// <summary><c>vs migrate</c>: flow migration to a new far end, with the application's view kept by the NAT.</summary>
internal sealed partial class ControlPlane
{
    /// <summary>
    /// <c>vs migrate TARGET ADDRESS:PORT [--path NAME]</c>: moves a flow (its number, or <c>flow:N</c>) or every flow
    /// of a rule (its name, or <c>rule:NAME</c>; new flows too) to a new far end. Each moved flow gets a new stack flow
    /// to the new address (new UDP binding, new DCCP connection) at once, the old one carrying it until the new one
    /// is ready; the application keeps talking to and hearing from what it addressed. On a rule with Paths,
    /// <paramref name="path"/> names the path that moves, on another rule <paramref name="stack"/> the stack (all of
    /// them when null: a rule whose stacks have different far ends wants one command per stack). Everything is
    /// checked first.
    /// </summary>
    public async Task<JsonObject> MigrateAsync(string target, string address, string? path, string who = "an operator", string? stack = null)
    {
        if (string.IsNullOrWhiteSpace(target) || string.IsNullOrWhiteSpace(address))
        {
            throw new ManagementException("migrate needs a target (a flow number or a rule name) and the new far end ADDRESS:PORT");
        }

        if (!NetEndpoint.TryParse(address.Trim(), out NetEndpoint to))
        {
            throw new ManagementException($"'{address}' is not an address and port like 10.202.0.2:9000 or [fd00:202::2]:9000");
        }

        if (IsFlowTarget(target, out long id, out string name))
        {
            return await MigrateFlowAsync(id, to, path, stack, who);
        }

        Rule rule = Rules.Rules.FirstOrDefault(r => r.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ManagementException($"no rule '{name}' (rules: {(Rules.Rules.Count == 0 ? "none" : string.Join(", ", Rules.Rules.Select(r => r.Name)))})");
        if (StackEngine.MigrationProblem(rule, path, stack) is { } problem)
        {
            throw new ManagementException(problem);
        }

        if (rule.Multipath is null && rule.Stacks.Any(s => s.Carries == Contracts.Stacks.StackCarries.Packet))
        {
            throw new ManagementException($"rule {rule.Name} carries whole packets unchanged (stack {rule.Stacks[0].Name}): they cannot be re-addressed");
        }

        (int moved, string[] problems) = await OnLoop(() =>
        {
            // New flows first, then the flows there are, in one visit to the shard thread.
            if (rule.Multipath is { } paths)
            {
                foreach (PathDefinition p in paths.Paths)
                {
                    if (path is null || p.Name.Equals(path, StringComparison.OrdinalIgnoreCase))
                    {
                        p.MigratedTo = new StrongBox<NetEndpoint>(to);
                    }
                }
            }
            else
            {
                var box = new StrongBox<NetEndpoint>(to);
                for (int i = 0; i < rule.Stacks.Length; i++)
                {
                    if (stack is null || rule.Stacks[i].Name.Equals(stack, StringComparison.OrdinalIgnoreCase))
                    {
                        rule.MigratedTo[i] = box;
                    }
                }
            }

            long now = Environment.TickCount64;
            int count = 0;
            var failed = new List<string>();
            foreach (FlowEntry flow in Flows.Table.Snapshot())
            {
                if (ReferenceEquals(flow.Rule, rule))
                {
                    if (flow.Engine.Migrate(to, path, now, stack) is { } failure)
                    {
                        failed.Add($"flow {flow.Id}: {failure}");
                    }
                    else
                    {
                        count++;
                    }
                }
            }

            return (count, failed.ToArray());
        });
        Log($"rule {rule.Name}: {(path is null ? "" : $"path {path}: ")}{(stack is null ? "" : $"stack {stack}: ")}far end moved to {to} by {who} ({moved} flow(s) now, new flows too)");
        return new JsonObject
        {
            ["rule"] = rule.Name,
            ["path"] = path,
            ["stack"] = stack,
            ["to"] = to.ToString(),
            ["flows"] = moved,
            ["problems"] = new JsonArray([.. problems.Select(p => (JsonNode)JsonValue.Create(p))]),
            ["note"] = "each flow builds a new stack flow to the new far end now and moves once it is ready; the application still sees the address it sent to",
        };
    }

    private async Task<JsonObject> MigrateFlowAsync(long id, NetEndpoint to, string? path, string? stack, string who)
    {
        (JsonObject? answer, string? problem) = await OnLoop(() =>
        {
            FlowEntry? flow = Flows.Table.FindById(id);
            if (flow is null)
            {
                return ((JsonObject?)null, $"no flow {id} (it may have ended; vs flows lists the flows)");
            }

            if (flow.Rule.Stacks.Any(s => s.Carries == Contracts.Stacks.StackCarries.Packet))
            {
                return (null, $"flow {id} is carried as whole packets (stack {flow.Rule.Stacks[0].Name}): it cannot be re-addressed");
            }

            StackEngine engine = flow.Engine;
            string? was = engine.Active >= 0 ? engine.Slots[engine.Active].Remote.ToString() : null;
            if (engine.Migrate(to, path, Environment.TickCount64, stack) is { } refused)
            {
                return (null, $"flow {id}: {refused}");
            }

            return (new JsonObject
            {
                ["flow"] = id,
                ["key"] = flow.Key.ToString(),
                ["rule"] = flow.Rule.Name,
                ["path"] = path,
                ["stack"] = stack,
                ["to"] = to.ToString(),
                ["was"] = flow.Rule.Multipath is null ? was : null,
                ["note"] = "a new stack flow to the new far end is built now; the old one carries the flow until it is ready; the application still sees the address it sent to",
            }, (string?)null);
        });
        if (problem is not null)
        {
            throw new ManagementException(problem);
        }

        Log($"flow {id}: {(path is null ? "" : $"path {path}: ")}{(stack is null ? "" : $"stack {stack}: ")}far end moved to {to} by {who}");
        return answer!;
    }
}
