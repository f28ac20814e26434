export declare function version(): string;
