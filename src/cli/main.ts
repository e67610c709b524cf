export async function main(a: string[]): Promise<number> { console.log(process.version, a); return 0; }
