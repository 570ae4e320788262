export * from '../../harness/system';
