"""Cost: usage tokens × the manifest's price table (USD per million tokens; Batch API at a discount)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import LlmConfig


@dataclass
class Usage:
    """Tokens and requests, per model and mode; ``cost`` needs the price table."""

    # (model, mode) → [responses, prompt tokens, completion tokens, cached prompt tokens]
    tokens: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, model: str, mode: str, prompt: int, completion: int, cached: int = 0) -> None:
        row = self.tokens.setdefault((model, mode), [0, 0, 0, 0])
        row[0] += 1
        row[1] += prompt
        row[2] += completion
        row[3] += cached

    def merge(self, other: "Usage") -> None:
        for (model, mode), (n, p, c, k) in other.tokens.items():
            row = self.tokens.setdefault((model, mode), [0, 0, 0, 0])
            row[0] += n
            row[1] += p
            row[2] += c
            row[3] += k

    @property
    def requests(self) -> int:
        return sum(r[0] for r in self.tokens.values())

    @property
    def prompt_tokens(self) -> int:
        return sum(r[1] for r in self.tokens.values())

    @property
    def completion_tokens(self) -> int:
        return sum(r[2] for r in self.tokens.values())

    def cost(self, config: LlmConfig) -> tuple[float, list[str]]:
        """(USD, models without a price). Models not in the table count as zero and are named."""
        total, unpriced = 0.0, []
        for (model, mode), (_, prompt, completion, cached) in sorted(self.tokens.items()):
            price = config.prices.get(model)
            if price is None:
                if model not in unpriced:
                    unpriced.append(model)
                continue
            cached_price = price.cached_input if price.cached_input is not None else price.input
            usd = ((prompt - cached) * price.input + cached * cached_price + completion * price.output) / 1e6
            total += usd * (config.batch_discount if mode == "batch" else 1.0)
        return round(total, 6), unpriced

    def count_into(self, stats: dict, config: LlmConfig, **counters: int) -> None:
        """Add requests, tokens, cost and ``counters`` to a builder's ``BuildContext.stats`` (the
        lock's per-config totals), rounded to 6 places like the lock."""
        cost, _ = self.cost(config)
        for key, value in (("llm_requests", self.requests), ("llm_prompt_tokens", self.prompt_tokens),
                           ("llm_completion_tokens", self.completion_tokens), ("llm_cost_usd", cost),
                           *counters.items()):
            stats[key] = round(stats.get(key, 0) + value, 6)

    def describe(self, config: LlmConfig) -> str:
        usd, unpriced = self.cost(config)
        cost = f"${usd:.4f}" + (f" (no price for {', '.join(unpriced)}: set llm.prices)" if unpriced else "")
        return (f"{self.requests} responses, {self.prompt_tokens:,} prompt + {self.completion_tokens:,} "
                f"completion tokens, cost {cost}")
