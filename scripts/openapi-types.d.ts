export function apiTypesText(document: object): Promise<string>;
