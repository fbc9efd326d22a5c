// "Did you mean …" for mistyped commands and options.

/** Levenshtein distance: the fewest insertions, deletions and substitutions from a to b. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidates `word` most likely meant, closest first-equal (several when they tie):
 * within 2 edits, or the start of one. A word of one or two letters may not be mostly
 * replaced (`x` is not a typo of `gc`); nothing close, nothing suggested.
 */
export function closestMatches(word: string, candidates: readonly string[]): string[] {
  const typed = word.toLowerCase();
  if (typed === '') return [];
  let best = Infinity;
  let matches: string[] = [];
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate.toLowerCase());
    const close = (distance <= 2 && distance < typed.length) || candidate.toLowerCase().startsWith(typed);
    if (!close || distance > best) continue;
    if (distance < best) matches = [];
    best = distance;
    matches.push(candidate);
  }
  return matches;
}

/** `; did you mean "serve"?` (or `"a" or "b"`), or '' when nothing is close. */
export function didYouMean(word: string, candidates: readonly string[], show: (candidate: string) => string = (c) => JSON.stringify(c)): string {
  const matches = closestMatches(word, candidates).map(show);
  if (matches.length === 0) return '';
  const listed = matches.length === 1 ? matches[0] : `${matches.slice(0, -1).join(', ')} or ${matches[matches.length - 1]}`;
  return `; did you mean ${listed}?`;
}
