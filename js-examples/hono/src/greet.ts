export interface Greeting {
  greeting: string;
  name: string;
}

enum Lang {
  En = 'en',
  Fr = 'fr',
}

const words: Record<Lang, string> = { [Lang.En]: 'Hello', [Lang.Fr]: 'Bonjour' };

export function greet(name: string, lang?: string): Greeting {
  const l = (lang as Lang) in words ? (lang as Lang) : Lang.En;
  return { greeting: `${words[l]}, ${name}!`, name };
}
