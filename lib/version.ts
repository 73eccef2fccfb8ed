/** The pipeline version written into every manifest (kept equal to package.json by a unit test). */
export const PIPELINE_VERSION = '0.1.0';
