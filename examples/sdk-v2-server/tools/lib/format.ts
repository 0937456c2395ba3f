// A helper both tools import: edit it and both are reloaded.
export function decorate(text: string): string {
  return `« ${text} »`;
}
