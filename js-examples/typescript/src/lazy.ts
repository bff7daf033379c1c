export const describe = (service: string): string => `${service} loaded lazily`;
